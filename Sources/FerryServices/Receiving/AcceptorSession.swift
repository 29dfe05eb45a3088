import FerryDICOM
import FerryNetwork
import Logging
import NIOCore
import NIOPosix

/// One association accepted by the receiver, from A-ASSOCIATE-RQ to release or abort, driven
/// by the PS3.8 state machine. Data sets are written to disk as their fragments arrive.
final class AcceptorSession {
    let channel: PDUChannel
    let settings: ReceiverSettings
    let sorting: StudySorting
    let logger: Logger
    let peer: String
    private var machine = UpperLayerStateMachine()
    private var contexts: [UInt8: AcceptedContext] = [:]
    private var peerMaxPDU = 0
    private var callingAE = ""
    private var calledAE = ""

    init(channel: PDUChannel, settings: ReceiverSettings, sorting: StudySorting, logger: Logger, peer: String) {
        self.channel = channel
        self.settings = settings
        self.sorting = sorting
        self.logger = logger
        self.peer = peer
    }

    func run() async {
        _ = machine.handle(.transportIndication)  // AE-5: ARTIM runs until A-ASSOCIATE-RQ
        do {
            guard try await negotiate() else { return }
            try await serveMessages()
        } catch let e as AssociationError {
            switch e {
            case .timeout(let what): logger.warning("\(peer): \(what): dropping the association")
            default: logger.warning("\(peer): \(e)")
            }
            await abort(reason: e)
        } catch let e as PDUError {
            logger.warning("\(peer): protocol error: \(e.message)")
            await abort(AbortPDU(source: 2, reason: e.abortReason))
        } catch {
            logger.warning("\(peer): association ended: \(error)")
            await channel.close()
        }
    }

    // MARK: Negotiation

    private func negotiate() async throws -> Bool {
        let pdu = try await channel.receive(timeout: settings.timeouts.acse, what: "waiting for A-ASSOCIATE-RQ (ARTIM)")
        guard case .associateRQ(let rq) = pdu else {
            _ = machine.handle(UpperLayerStateMachine.Event(received: pdu))  // AA-1
            await abort(.unexpectedPDU)
            return false
        }
        callingAE = rq.callingAE
        calledAE = rq.calledAE
        logger.debug("A-ASSOCIATE-RQ from \(peer):\n\(PDUDump.associateRQ(rq))")
        switch settings.policy.evaluate(rq, host: peer.split(separator: ":").first.map(String.init)) {
        case .failure(let reject):
            _ = machine.handle(.associateRQReceived, acceptable: false)  // AE-6 -> AE-8
            logger.info("Association Rejected from \(peer) (\(rq.callingAE)): \(reject.why)")
            try? await channel.send(.associateRJ(reject.rj), timeout: .seconds(5), what: "sending A-ASSOCIATE-RJ")
            // ARTIM: give the peer a moment to close, then close ourselves.
            _ = try? await channel.receive(timeout: .seconds(2), what: "waiting for the peer to close")
            await channel.close()
            return false
        case .success(let results):
            _ = machine.handle(.associateRQReceived, acceptable: true)
            _ = machine.handle(.associateAccept)  // AE-7
            var info = UserInformation(
                maxLength: settings.maxReceivePDU, implementationClassUID: UIDGenerator.implementationClassUID,
                implementationVersionName: UIDGenerator.implementationVersionName)
            if let id = rq.userInformation.userIdentity, id.positiveResponseRequested { info.userIdentityResponse = [] }
            let ac = AssociateAC(
                calledAE: rq.calledAE, callingAE: rq.callingAE, presentationContexts: results, userInformation: info)
            let abstract = Dictionary(
                rq.presentationContexts.map { ($0.id, $0.abstractSyntax) }, uniquingKeysWith: { a, _ in a })
            for r in results where r.result == .acceptance {
                contexts[r.id] = AcceptedContext(
                    id: r.id, abstractSyntax: abstract[r.id] ?? "", transferSyntax: r.transferSyntax)
            }
            peerMaxPDU = Int(rq.userInformation.maxLength)
            logger.info(
                "Association Received from \(peer): \(rq.callingAE) -> \(rq.calledAE), \(contexts.count) of \(results.count) contexts accepted"
            )
            try await channel.send(.associateAC(ac), timeout: settings.timeouts.socket, what: "sending A-ASSOCIATE-AC")
            return true
        }
    }

    // MARK: DIMSE

    private enum Phase {
        case idle
        case command(contextID: UInt8, bytes: [UInt8])
        case storeData(StoreInProgress)
        case discardData(contextID: UInt8)
    }

    private final class StoreInProgress: @unchecked Sendable {
        let command: CommandSet
        let contextID: UInt8
        let file: ReceivedFile
        init(command: CommandSet, contextID: UInt8, file: ReceivedFile) {
            self.command = command
            self.contextID = contextID
            self.file = file
        }
    }

    private func serveMessages() async throws {
        var phase = Phase.idle
        while true {
            let batch = try await channel.receiveBatch(
                timeout: settings.timeouts.dimseWait, what: "waiting for a DIMSE message (DIMSE/socket timeout)")
            for pdu in batch {
                let action = machine.handle(UpperLayerStateMachine.Event(received: pdu))
                switch (pdu, action) {
                case (.data(let pdata), .dt2?):
                    for v in pdata.values {
                        phase = try await handle(v, phase)
                    }
                case (.releaseRQ, .ar2?):
                    _ = machine.handle(.releaseResponse)  // AR-4
                    if case .storeData(let s) = phase { s.file.discard() }
                    try? await channel.send(.releaseRP, timeout: .seconds(5), what: "sending A-RELEASE-RP")
                    logger.info("Association Release from \(peer)")
                    await channel.close()
                    return
                case (.abort(let a), _):
                    if case .storeData(let s) = phase { s.file.discard() }
                    logger.info("Association Aborted by \(peer) (\(a))")
                    await channel.close()
                    return
                default:
                    if case .storeData(let s) = phase { s.file.discard() }
                    throw AssociationError.protocolError("unexpected \(pdu.kind) on an established association")
                }
            }
        }
    }

    private func handle(_ v: PDV, _ phase: Phase) async throws -> Phase {
        switch phase {
        case .idle, .command:
            guard v.isCommand else { throw AssociationError.protocolError("data set fragment without a command") }
            var bytes: [UInt8] = []
            if case .command(let id, let earlier) = phase {
                guard id == v.contextID else {
                    throw AssociationError.protocolError("command fragments on two presentation contexts")
                }
                bytes = earlier
            }
            guard contexts[v.contextID] != nil else {
                throw AssociationError.protocolError("presentation context \(v.contextID) was not accepted")
            }
            bytes += v.data.readableBytesView
            guard bytes.count <= 1 << 20 else { throw AssociationError.protocolError("command set longer than 1 MiB") }
            if !v.isLast { return .command(contextID: v.contextID, bytes: bytes) }
            let command: CommandSet
            do { command = try CommandSet.decode(bytes) } catch {
                throw AssociationError.protocolError("undecodable command set: \(error)")
            }
            return try await dispatch(command, contextID: v.contextID)
        case .storeData(let store):
            guard !v.isCommand, v.contextID == store.contextID else {
                throw AssociationError.protocolError("unexpected fragment inside a data set")
            }
            if settings.switches.abortDuring {
                store.file.discard()
                logger.info("aborting during the data set (--abort-during)")
                throw AssociationError.protocolError("--abort-during")
            }
            store.file.append(v.data)
            if v.isLast { try await finishStore(store); return .idle }
            return phase
        case .discardData(let id):
            guard !v.isCommand, v.contextID == id else {
                throw AssociationError.protocolError("unexpected fragment inside a data set")
            }
            return v.isLast ? .idle : phase
        }
    }

    private func dispatch(_ command: CommandSet, contextID: UInt8) async throws -> Phase {
        guard let pc = contexts[contextID] else { throw AssociationError.protocolError("no such context") }
        switch command.field {
        case .cEchoRQ?:
            let id = command.messageID ?? 0
            try await sendCommand(.echoRSP(respondingTo: id), contextID: contextID)
            logger.info("Received Echo Request from \(callingAE); answered Success")
            return command.hasDataSet ? .discardData(contextID: contextID) : .idle
        case .cStoreRQ?:
            guard command.hasDataSet else { throw AssociationError.protocolError("C-STORE-RQ without a data set") }
            let ts = TransferSyntax.lookup(pc.transferSyntax) ?? .implicitVRLittleEndian
            let sopClass = command.affectedSOPClassUID ?? ""
            let sopInstance = command.affectedSOPInstanceUID ?? ""
            if settings.switches.sleepDuring > .zero {
                logger.info(
                    "sleeping \(Double(settings.switches.sleepDuring.nanoseconds) / 1e9) s during the store (--sleep-during)"
                )
                try await Task.sleep(for: .nanoseconds(settings.switches.sleepDuring.nanoseconds))
            }
            let file = ReceivedFile(
                options: settings.output, sopClass: sopClass, sopInstance: sopInstance, transferSyntax: ts,
                callingAE: callingAE)
            return .storeData(StoreInProgress(command: command, contextID: contextID, file: file))
        default:
            throw AssociationError.protocolError(
                "unsupported DIMSE command 0x\(String(command.rawField ?? 0, radix: 16))")
        }
    }

    private func finishStore(_ store: StoreInProgress) async throws {
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
            let commit: @Sendable () -> Result<(path: String, completed: StudySorting.CompletedStudy?)?, StoreRefusal> =
                {
                    do throws(StoreRefusal) { return .success(try store.file.commit(sorting: sorting)) } catch {
                        return .failure(error)
                    }
                }
            // fsync waits for the disk: off the task's thread. Without it, committing is a
            // flush to the page cache and a rename: done here, a thread hop would cost more.
            let result =
                settings.output.fsync || !settings.output.streamsAsReceived
                ? try await NIOThreadPool.singleton.runIfActive(commit) : commit()
            switch result {
            case .success(let stored):
                status = forced ?? .success
                if let stored { afterStore(stored.path, completed: stored.completed) }
            case .failure(let refusal):
                status = refusal.status
                comment = refusal.comment
                logger.error("Store refused (\(command.affectedSOPInstanceUID ?? "?")): \(refusal)")
            }
        }
        try await sendCommand(
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

    private func sendCommand(_ command: CommandSet, contextID: UInt8) async throws {
        guard machine.handle(.dataRequest) == .dt1 else { throw AssociationError.unusable }
        let bytes = try command.encode()
        let maxFragment = max(16, ((peerMaxPDU == 0 ? 1 << 20 : peerMaxPDU) - 6) & ~1)
        var values: [PDV] = []
        var offset = 0
        repeat {
            let n = min(maxFragment, bytes.count - offset)
            values.append(
                PDV(
                    contextID: contextID, isCommand: true, isLast: offset + n == bytes.count,
                    data: channel.allocator.buffer(bytes: bytes[offset..<offset + n])))
            offset += n
        } while offset < bytes.count
        for v in values {
            try await channel.send(
                .data(PDataTF(values: [v])), timeout: settings.timeouts.socket, what: "sending a response")
        }
    }

    private func abort(_ a: AbortPDU = .byUser) async {
        _ = machine.handle(.abortRequest)
        try? await channel.send(.abort(a), timeout: .seconds(2), what: "sending A-ABORT")
        await channel.close()
    }

    private func abort(reason: AssociationError) async {
        switch reason {
        case .closedByPeer, .abortedByPeer: await channel.close()
        default: await abort()
        }
    }
}
