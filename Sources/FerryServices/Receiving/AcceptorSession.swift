import FerryDICOM
import FerryNetwork
import Logging
import NIOCore
import NIOPosix

/// One association accepted by the receiver, from A-ASSOCIATE-RQ to release or abort: the
/// storage and verification services on the association core (`Association.accept`, its
/// reader and fragmenter). Data sets are written to disk as their fragments arrive.
final class AcceptorSession {
    let channel: PDUChannel
    let settings: ReceiverSettings
    let sorting: StudySorting
    let logger: Logger
    /// host:port ([host]:port for IPv6), for the logs and hooks.
    let peer: String
    /// The peer's address alone, for the allow-list.
    let peerHost: String
    /// Which association limit this one passes, if any: its request is rejected (transient).
    let overLimit: String?
    private var callingAE = ""
    private var calledAE = ""

    init(
        channel: PDUChannel, settings: ReceiverSettings, sorting: StudySorting, logger: Logger, peerHost: String,
        peerPort: Int, overLimit: String? = nil
    ) {
        self.overLimit = overLimit
        self.channel = channel
        self.settings = settings
        self.sorting = sorting
        self.logger = logger
        self.peerHost = peerHost
        self.peer = peerHost.contains(":") ? "[\(peerHost)]:\(peerPort)" : "\(peerHost):\(peerPort)"
    }

    func run() async {
        let association: Association
        do {
            guard let accepted = try await negotiate() else { return }
            association = accepted
        } catch {
            log(error)
            return
        }
        var phase = Phase.idle
        do {
            try await serve(association, &phase)
        } catch {
            if case .storeData(let s) = phase { s.file.discard() }
            log(error)
            await association.abort()
        }
    }

    private func log(_ error: Error) {
        if let e = error as? AssociationError, e.code == .timeout {
            logger.warning("\(peer): \(e.message): dropping the association")
        } else {
            logger.warning("\(peer): \(error)")
        }
    }

    // MARK: Negotiation

    private func negotiate() async throws -> Association? {
        let association = try await Association.accept(
            channel: channel, peer: peer, timeouts: settings.timeouts, maxReceivePDU: settings.maxReceivePDU,
            logger: logger
        ) { [overLimit] rq in
            if let overLimit {
                logger.warning("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(overLimit)")
                return .reject(.localLimitExceeded)
            }
            switch settings.policy.evaluate(rq, host: peerHost) {
            case .reject(let rj, let why):
                logger.info("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(why)")
                return .reject(rj)
            case .accept(let results):
                var info = UserInformation(
                    maxLength: settings.maxReceivePDU, implementationClassUID: UIDGenerator.implementationClassUID,
                    implementationVersionName: UIDGenerator.implementationVersionName)
                if let id = rq.userInformation.userIdentity, id.positiveResponseRequested {
                    info.userIdentityResponse = []
                }
                return .accept(results, info)
            }
        }
        guard let association else { return nil }
        callingAE = association.callingAE
        calledAE = association.calledAE
        logger.info(
            "Association Received from \(peer): \(callingAE.escapedForLog()) -> \(calledAE.escapedForLog()), \(association.acceptedContexts.count) of \(association.acceptance.presentationContexts.count) contexts accepted"
        )
        return association
    }

    // MARK: DIMSE

    private enum Phase {
        case idle
        case storeData(StoreInProgress)
        case discardData
    }

    private final class StoreInProgress: @unchecked Sendable {
        let command: CommandSet
        let contextID: UInt8
        let file: ReceivedFile
        /// When the whole store must be in (ReceiverLimits.storeTime after its command).
        let deadline: NIODeadline
        init(command: CommandSet, contextID: UInt8, file: ReceivedFile, deadline: NIODeadline) {
            self.command = command
            self.contextID = contextID
            self.file = file
            self.deadline = deadline
        }
    }

    private func serve(_ association: Association, _ phase: inout Phase) async throws {
        let limits = settings.limits
        while true {
            var timeout = settings.timeouts.dimseWait
            var what = "waiting for a DIMSE message (DIMSE/socket timeout)"
            if case .storeData(let store) = phase {
                // The whole store has a deadline: a peer trickling its data set under the
                // DIMSE timeout is cut off when the store has taken the limit.
                let left = store.deadline - .now()
                guard left > .zero else {
                    store.file.discard()
                    throw AssociationError.timeout(
                        "the store took longer than \(limits.storeTime.nanoseconds / 1_000_000_000) s (--max-store-time)"
                    )
                }
                if timeout.map({ left < $0 }) ?? true {
                    timeout = left
                    what = "the store's data set (--max-store-time)"
                }
            }
            let parts = try await association.receive(timeout: timeout, what: what)
            for part in parts {
                switch part {
                case .command(let command, let contextID):
                    phase = try await dispatch(command, contextID: contextID, on: association)
                case .data(let fragment, _, let isLast):
                    switch phase {
                    case .storeData(let store):
                        if settings.switches.abortDuring {
                            store.file.discard()
                            logger.info("aborting during the data set (--abort-during)")
                            throw AssociationError.protocolError("--abort-during")
                        }
                        store.file.append(fragment)
                        if store.file.bytesReceived > limits.maxInstanceBytes {
                            store.file.refuse(
                                .outOfResources(
                                    "the instance is larger than \(limits.maxInstanceBytes) bytes (--max-instance-size)"
                                ))
                        }
                        if isLast {
                            phase = .idle
                            try await finishStore(store, on: association)
                        }
                    case .discardData:
                        if isLast { phase = .idle }
                    case .idle:
                        // The reader lets through only data sets announced by a command.
                        throw AssociationError.protocolError("data set fragment without a command")
                    }
                case .released:
                    if case .storeData(let s) = phase { s.file.discard() }
                    logger.info("Association Release from \(peer)")
                    return
                case .aborted(let a):
                    if case .storeData(let s) = phase { s.file.discard() }
                    logger.info("Association Aborted by \(peer) (\(a))")
                    return
                }
            }
        }
    }

    private func dispatch(_ command: CommandSet, contextID: UInt8, on association: Association) async throws -> Phase {
        guard let pc = association.context(contextID) else { throw AssociationError.protocolError("no such context") }
        switch command.field {
        case .cEchoRQ?:
            let id = command.messageID ?? 0
            try await association.sendCommand(.echoRSP(respondingTo: id), contextID: contextID)
            logger.info("Received Echo Request from \(callingAE.escapedForLog()); answered Success")
            return command.hasDataSet ? .discardData : .idle
        case .cStoreRQ?:
            guard command.hasDataSet else { throw AssociationError.protocolError("C-STORE-RQ without a data set") }
            let ts = TransferSyntax.lookup(pc.transferSyntax) ?? .implicitVRLittleEndian
            let sopClass = command.affectedSOPClassUID ?? ""
            let sopInstance = command.affectedSOPInstanceUID ?? ""
            // As DCMTK storescp -v: the request's arrival, before its data set (a stall shows
            // on which side it is).
            logger.info("Received Store Request: MsgID \(command.messageID ?? 0), \(sopInstance.escapedForLog())")
            if settings.switches.sleepDuring > .zero {
                logger.info(
                    "sleeping \(Double(settings.switches.sleepDuring.nanoseconds) / 1e9) s during the store (--sleep-during)"
                )
                try await Task.sleep(for: .nanoseconds(settings.switches.sleepDuring.nanoseconds))
            }
            let file = ReceivedFile(
                options: settings.output, sopClass: sopClass, sopInstance: sopInstance, transferSyntax: ts,
                callingAE: callingAE)
            return .storeData(
                StoreInProgress(
                    command: command, contextID: contextID, file: file,
                    deadline: .now() + settings.limits.storeTime))
        default:
            throw AssociationError.protocolError(
                "unsupported DIMSE command 0x\(String(command.rawField ?? 0, radix: 16))")
        }
    }

    private func finishStore(_ store: StoreInProgress, on association: Association) async throws {
        let command = store.command
        if settings.switches.abortAfter {
            store.file.discard()
            logger.info("aborting after the C-STORE-RQ (--abort-after)")
            throw AssociationError.protocolError("--abort-after")
        }
        var status = DIMSEStatus.success
        var comment: String?
        let forced = settings.switches.status
        if let forced, !forced.isSuccessOrWarning {
            store.file.discard()
            status = forced
            comment = "status forced by --status"
        } else {
            let sorting = self.sorting
            let commit: @Sendable () -> Result<(path: String, completed: StudySorting.CompletedStudy?)?, ServiceError> =
                {
                    do throws(ServiceError) { return .success(try store.file.commit(sorting: sorting)) } catch {
                        return .failure(error)
                    }
                }
            // fsync waits for the disk: off the task's thread. Without it, committing is a
            // flush to the page cache and a rename: done here, a thread hop would cost more.
            let result =
                settings.output.fsync || !settings.output.streamsAsReceived
                ? try await BlockingPool.shared.run(commit) : commit()
            switch result {
            case .success(let stored):
                status = forced ?? .success
                if let stored { afterStore(stored.path, completed: stored.completed) }
            case .failure(let refusal):
                status = refusal.status ?? DIMSEStatus(0xA700)
                comment = refusal.message
                logger.error("Store refused (\((command.affectedSOPInstanceUID ?? "?").escapedForLog())): \(refusal)")
            }
        }
        try await association.sendCommand(
            .storeRSP(
                respondingTo: command.messageID ?? 0, sopClass: command.affectedSOPClassUID ?? "",
                sopInstance: command.affectedSOPInstanceUID ?? "", status: status, errorComment: comment),
            contextID: store.contextID)
        if settings.switches.sleepAfter > .zero {
            logger.info(
                "sleeping \(Double(settings.switches.sleepAfter.nanoseconds) / 1e9) s after the store (--sleep-after)")
            try await Task.sleep(for: .nanoseconds(settings.switches.sleepAfter.nanoseconds))
        }
    }

    private func afterStore(_ path: String, completed: StudySorting.CompletedStudy?) {
        let hooks = settings.hooks
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        let name = String(path[(path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex)...])
        logger.info("Stored \(path)")
        if let completed {
            hooks.studyCompleted(completed, callingAE: callingAE, calledAE: calledAE, peer: peer, logger: logger)
        }
        if let cmd = hooks.onReception {
            hooks.execute(
                ExecHooks.expand(
                    cmd, directory: directory, file: name, callingAE: callingAE, calledAE: calledAE, peer: peer),
                logger: logger)
        }
    }
}
