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
    let spares: SpareFiles?
    let logger: Logger
    /// host:port ([host]:port for IPv6), for the logs and hooks.
    let peer: String
    /// The peer's address alone, for the allow-list.
    let peerHost: String
    /// Which association limit this one passes, if any: its request is rejected (transient).
    let overLimit: String?
    private(set) var callingAE = ""
    private(set) var calledAE = ""
    /// This association holds its area's storage (--no-parallel-store) until it ends.
    private var claimedStorage: String?
    /// Storage commitment reports sent on this association and not answered: their
    /// transactions by message ID.
    var reportsSent: [UInt16: String] = [:]

    init(
        channel: PDUChannel, settings: ReceiverSettings, sorting: StudySorting, spares: SpareFiles? = nil,
        logger: Logger,
        peerHost: String, peerPort: Int, overLimit: String? = nil
    ) {
        self.spares = spares
        self.overLimit = overLimit
        self.channel = channel
        self.settings = settings
        self.sorting = sorting
        self.logger = logger
        self.peerHost = peerHost
        self.peer = peerHost.contains(":") ? "[\(peerHost)]:\(peerPort)" : "\(peerHost):\(peerPort)"
    }

    func run() async {
        defer { if let ae = claimedStorage { settings.storageClaims?.release(ae) } }
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
            if let provider = settings.queryRetrieve,
                let (rj, why) = provider.admits(calledAE: rq.calledAE, callingAE: rq.callingAE, host: peerHost)
            {
                logger.info("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(why)")
                return .reject(rj)
            }
            switch settings.policy.evaluate(rq, host: peerHost) {
            case .reject(let rj, let why):
                logger.info("Association Rejected from \(peer) (\(rq.callingAE.escapedForLog())): \(why)")
                return .reject(rj)
            case .accept(var results):
                results = self.restricted(results, of: rq)
                var info = UserInformation(
                    maxLength: settings.maxReceivePDU, implementationClassUID: UIDGenerator.implementationClassUID,
                    implementationVersionName: UIDGenerator.implementationVersionName)
                if let id = rq.userInformation.userIdentity, id.positiveResponseRequested {
                    info.userIdentityResponse = []
                }
                // Relational queries and combined date-time matching for the Q/R classes served.
                if settings.queryRetrieve != nil {
                    info.extendedNegotiations = rq.userInformation.extendedNegotiations.filter {
                        settings.policy.queryRetrieveSOPClasses.contains($0.sopClass)
                    }.map { ExtendedNegotiation(sopClass: $0.sopClass, info: Query.extendedNegotiationAnswer($0.info)) }
                }
                // C-GET (PS3.4 C.5.3, PS3.7 D.3.3.4): a requestor that offers to be the
                // Storage SCP of a class gets the role, so this archive sends on its association.
                if settings.queryRetrieve != nil, settings.queryRetrieveGet {
                    info.roleSelections = rq.userInformation.roleSelections.filter {
                        $0.scp && settings.policy.supports($0.sopClass)
                    }.map { RoleSelection(sopClass: $0.sopClass, scu: $0.scu, scp: true) }
                }
                // Storage commitment: the roles proposed are granted (the SCP that reports on
                // a new association asks for the SCP role, PS3.4 J.3.3).
                if settings.policy.storageCommitment {
                    info.roleSelections += rq.userInformation.roleSelections.filter {
                        $0.sopClass == StorageCommitment.sopClass
                    }
                }
                // An Asynchronous Operations Window, granted up to our limit. Requests are still
                // served in order; a C-GET's sub-operations use the window the requestor performs.
                if let proposed = rq.userInformation.asyncOperationsWindow {
                    info.asyncOperationsWindow = AsyncOperationsWindow.answer(
                        to: proposed, grant: settings.asyncWindowGrant)
                }
                return .accept(results, info)
            }
        }
        guard let association else { return nil }
        for e in association.acceptance.userInformation.extendedNegotiations { negotiatedOptions[e.sopClass] = e.info }
        callingAE = association.callingAE
        calledAE = association.calledAE
        let window = association.acceptance.userInformation.asyncOperationsWindow.map {
            ", asynchronous operations window \($0.maxInvoked) invoked/\($0.maxPerformed) performed"
        }
        logger.info(
            "Association Received from \(peer): \(callingAE.escapedForLog()) -> \(calledAE.escapedForLog()), \(association.acceptedContexts.count) of \(association.acceptance.presentationContexts.count) contexts accepted\(window ?? "")"
        )
        return association
    }

    /// dcmqrscp's --require-find and --no-parallel-store applied to the accepted contexts:
    /// refused (user rejection) as dcmqrscp refuses them.
    private func restricted(_ results: [PresentationContextResult], of rq: AssociateRQ) -> [PresentationContextResult] {
        let syntaxes = Dictionary(rq.presentationContexts.map { ($0.id, $0.abstractSyntax) }) { a, _ in a }
        let accepted = Set(results.filter { $0.result == .acceptance }.compactMap { syntaxes[$0.id] })
        var storing = false
        var out = results.map { r -> PresentationContextResult in
            guard r.result == .acceptance, let syntax = syntaxes[r.id] else { return r }
            if settings.requireFind, let (model, op) = InformationModel.lookup(syntax), op != .find,
                !accepted.contains(model.sopClass(.find))
            {
                return PresentationContextResult(id: r.id, result: .userRejection, transferSyntax: "")
            }
            if AcceptancePolicy.storageClasses.contains(syntax) { storing = true }
            return r
        }
        if storing, let claims = settings.storageClaims {
            if claims.claim(rq.calledAE) {
                claimedStorage = rq.calledAE
            } else {
                logger.info(
                    "\(rq.calledAE.escapedForLog()) is storing on another association: storage refused (--no-parallel-store)"
                )
                out = out.map { r in
                    guard r.result == .acceptance, let syntax = syntaxes[r.id],
                        AcceptancePolicy.storageClasses.contains(syntax)
                    else { return r }
                    return PresentationContextResult(id: r.id, result: .userRejection, transferSyntax: "")
                }
            }
        }
        return out
    }

    // MARK: DIMSE

    private enum Phase {
        case idle
        case storeData(StoreInProgress)
        case discardData
        /// A request's data set arriving (a C-FIND/C-MOVE/C-GET identifier, an N-ACTION's or
        /// N-EVENT-REPORT's information): the command, its context, the bytes so far.
        case requestData(CommandSet, UInt8, [UInt8])
    }

    /// Identifiers are small; a longer one is refused (as command sets are).
    static let maxIdentifierLength = 1 << 20

    private final class StoreInProgress: @unchecked Sendable {
        let command: CommandSet
        let contextID: UInt8
        let file: ReceivedFile
        /// When the whole store must be in (ReceiverLimits.storeTime after its command).
        let deadline: NIODeadline
        /// Why the instance is received but not stored (a read-only storage area).
        let refusal: String?
        init(command: CommandSet, contextID: UInt8, file: ReceivedFile, deadline: NIODeadline, refusal: String?) {
            self.command = command
            self.contextID = contextID
            self.file = file
            self.deadline = deadline
            self.refusal = refusal
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
                    case .requestData(let command, let contextID, var bytes):
                        guard bytes.count + fragment.readableBytes <= Self.maxIdentifierLength else {
                            throw AssociationError.protocolError("an identifier longer than 1 MiB")
                        }
                        bytes += fragment.readableBytesView
                        phase = .requestData(command, contextID, bytes)
                        if isLast {
                            phase = .idle
                            switch command.field {
                            case .nActionRQ?:
                                try await serveCommitment(command, contextID: contextID, data: bytes, on: association)
                            case .nEventReportRQ?:
                                try await receiveReport(command, contextID: contextID, data: bytes, on: association)
                            default:
                                try await serveQuery(command, contextID: contextID, identifier: bytes, on: association)
                            }
                        }
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
            var output = settings.output
            var refusal: String?
            if let provider = settings.queryRetrieve {
                // Each AE title of an archive has its own storage area; a read-only one takes none.
                if let directory = provider.storageDirectory(calledAE: calledAE) {
                    output.directory = directory
                    output.keepExisting = true  // a duplicate must not replace the indexed file
                } else {
                    output.ignore = true
                    refusal = "\(calledAE) has no write access"
                }
            }
            let file = ReceivedFile(
                options: output, sopClass: sopClass, sopInstance: sopInstance, transferSyntax: ts, callingAE: callingAE,
                spares: spares)
            return .storeData(
                StoreInProgress(
                    command: command, contextID: contextID, file: file,
                    deadline: .now() + settings.limits.storeTime, refusal: refusal))
        case .cFindRQ? where settings.queryRetrieve != nil, .cMoveRQ? where settings.queryRetrieve != nil,
            .cGetRQ? where settings.queryRetrieve != nil && settings.queryRetrieveGet:
            guard command.hasDataSet else { throw AssociationError.protocolError("a request without an identifier") }
            return .requestData(command, contextID, [])
        case .nActionRQ? where settings.commitment != nil, .nEventReportRQ? where settings.commitmentInbox != nil:
            guard command.hasDataSet else {
                throw AssociationError.protocolError("a DIMSE-N request without its data set")
            }
            return .requestData(command, contextID, [])
        case .nEventReportRSP? where !command.hasDataSet:
            try reportAnswered(command)
            return .idle
        case .cCancelRQ?:
            // A cancel after its operation ended (the responses crossed): nothing to do.
            return .idle
        default:
            throw AssociationError.protocolError(
                "unsupported DIMSE command 0x\(String(command.rawField ?? 0, radix: 16))")
        }
    }

    // MARK: Query/Retrieve

    /// The identifier of a C-FIND, C-MOVE or C-GET, read; refusals carry their status.
    private func readQuery(_ bytes: [UInt8], sopClass: String, encoding: Encoding) throws(ServiceError) -> Query {
        guard let (model, _) = InformationModel.lookup(sopClass) else {
            throw ServiceError(.refused, "not a Query/Retrieve SOP class", status: .sopClassNotSupported)
        }
        let identifier: DataSet
        do { identifier = try DataSetDecoder.decode(bytes, encoding: encoding) } catch {
            throw ServiceError(.refused, "undecodable identifier: \(error)", status: .unableToProcess)
        }
        var query = try Query(identifier: identifier, model: model)
        if let n = negotiated(sopClass) {
            query.relational = n.count > 0 && n[0] == 1
            query.combinedDateTime = n.count > 1 && n[1] == 1
        }
        return query
    }

    /// What extended negotiation granted for `sopClass` on this association.
    private var negotiatedOptions: [String: [UInt8]] = [:]
    private func negotiated(_ sopClass: String) -> [UInt8]? { negotiatedOptions[sopClass] }

    private func serveQuery(
        _ command: CommandSet, contextID: UInt8, identifier bytes: [UInt8], on association: Association
    ) async throws {
        guard let provider = settings.queryRetrieve, let pc = association.context(contextID) else { return }
        let sopClass = command.affectedSOPClassUID ?? pc.abstractSyntax
        let encoding = Encoding(TransferSyntax.lookup(pc.transferSyntax) ?? .implicitVRLittleEndian)
        let query: Query
        do throws(ServiceError) { query = try readQuery(bytes, sopClass: sopClass, encoding: encoding) } catch {
            logger.warning("Request refused: \(error)")
            let field: CommandField =
                switch command.field {
                case .cMoveRQ?: .cMoveRSP
                case .cGetRQ?: .cGetRSP
                default: .cFindRSP
                }
            try await association.sendCommand(
                .queryRSP(
                    field, respondingTo: command.messageID ?? 0, sopClass: sopClass,
                    status: error.status ?? .unableToProcess, hasDataSet: false, errorComment: error.message),
                contextID: contextID)
            return
        }
        if command.field == .cMoveRQ || command.field == .cGetRQ {
            try await serveRetrieve(command, query: query, contextID: contextID, provider: provider, on: association)
        } else {
            try await serveFind(
                command, query: query, contextID: contextID, encoding: encoding, provider: provider, on: association)
        }
    }

    /// C-FIND (PS3.4 C.4.1): a pending response per match, each with its identifier, then
    /// the final status. A C-CANCEL-RQ arriving meanwhile ends it with FE00 (PS3.7 9.3.2.3).
    private func serveFind(
        _ command: CommandSet, query: Query, contextID: UInt8, encoding: Encoding,
        provider: any QueryRetrieveProvider, on association: Association
    ) async throws {
        let id = command.messageID ?? 0
        let sopClass = command.affectedSOPClassUID ?? ""
        func final(_ status: DIMSEStatus, _ comment: String? = nil) async throws {
            try await stallBeforeFinal()
            try await association.sendCommand(
                .queryRSP(
                    .cFindRSP, respondingTo: id, sopClass: sopClass, status: status, hasDataSet: false,
                    errorComment: comment), contextID: contextID)
        }
        logger.info(
            "Received Find Request: MsgID \(id), \(query.model.rawValue) \(query.level.rawValue), \(query.keys.count) keys, from \(callingAE.escapedForLog())"
        )
        let called = calledAE
        let result = try await BlockingPool.shared.run { () -> Result<[DataSet], ServiceError> in
            do throws(ServiceError) { return .success(try provider.find(query, calledAE: called)) } catch {
                return .failure(error)
            }
        }
        let matches: [DataSet]
        switch result {
        case .success(let m): matches = m
        case .failure(let error):
            logger.warning("Find refused: \(error)")
            try await final(error.status ?? .unableToProcess, error.message)
            return
        }
        let writer = DataSetWriter(encoding: encoding)
        let switches = settings.switches
        let unsupported = query.unsupportedKeys
        if !unsupported.isEmpty {
            logger.info(
                "Keys below the \(query.level.rawValue) level are not supported: \(unsupported.map(\.description).joined(separator: " ")); answering FF01"
            )
        }
        let pending: DIMSEStatus = unsupported.isEmpty ? .pending : .pendingWarning
        for (i, match) in matches.enumerated() {
            if let cap = switches.capResults, i >= cap {
                logger.info("Find capped after \(cap) of \(matches.count) matches (--cap-results)")
                try await final(switches.capStatus, "results capped at \(cap)")
                return
            }
            try await beforePending(sent: i, on: association)
            if try await cancelRequested(id, on: association) {
                logger.info("Find cancelled after \(i) of \(matches.count) matches")
                try await final(.cancel)
                return
            }
            try await association.sendCommand(
                .queryRSP(.cFindRSP, respondingTo: id, sopClass: sopClass, status: pending, hasDataSet: true),
                contextID: contextID)
            var source = BytesSource(try writer.encode(match))
            try await association.sendDataSet(contextID: contextID, source: &source)
        }
        logger.info("Find answered: \(matches.count) matches")
        try await final(.success)
    }

    /// C-MOVE (PS3.4 C.4.2) and C-GET (C.4.3): the matches' instances sent, for C-MOVE to
    /// the destination over a storage association of our own (calling AE: the AE title the
    /// mover called), each C-STORE-RQ naming the move's originator; for C-GET on this very
    /// association, in the contexts the requestor offered with the SCP role. A pending response
    /// with the four counters after each sub-operation; C-CANCEL stops before the next one
    /// (FE00 with the counts). Final status: 0000 all stored, B000 some failed or warned, A702
    /// all failed (with the Failed SOP Instance UID List), A801 an unknown move destination.
    private func serveRetrieve(
        _ command: CommandSet, query: Query, contextID: UInt8, provider: any QueryRetrieveProvider,
        on association: Association
    ) async throws {
        let id = command.messageID ?? 0
        let isGet = command.field == .cGetRQ
        let responseField: CommandField = isGet ? .cGetRSP : .cMoveRSP
        let sopClass = command.affectedSOPClassUID ?? ""
        let pc = association.context(contextID)
        let encoding = Encoding(TransferSyntax.lookup(pc?.transferSyntax ?? "") ?? .implicitVRLittleEndian)
        var pendingSent = 0
        func respond(
            _ status: DIMSEStatus, _ counts: SubOperationCounts?, failed: [String] = [], comment: String? = nil
        ) async throws {
            let list = status != .pending && status != .success && !failed.isEmpty
            if status == .pending {
                try await beforePending(sent: pendingSent, on: association)
                pendingSent += 1
            } else {
                try await stallBeforeFinal()
            }
            try await association.sendCommand(
                .queryRSP(
                    responseField, respondingTo: id, sopClass: sopClass, status: status, hasDataSet: list,
                    counts: counts,
                    errorComment: comment), contextID: contextID)
            if list {
                var ds = DataSet()
                ds.set(QueryKeys.failedSOPInstanceUIDList, .UI, failed.joined(separator: "\\"))
                var source = BytesSource(try DataSetWriter(encoding: encoding).encode(ds))
                try await association.sendDataSet(contextID: contextID, source: &source)
            }
        }
        let destinationAE = command.moveDestination ?? ""
        logger.info(
            "Received \(isGet ? "Get" : "Move") Request: MsgID \(id), \(query.model.rawValue) \(query.level.rawValue)\(isGet ? "" : ", to \(destinationAE.escapedForLog())"), from \(callingAE.escapedForLog())"
        )
        let destination = provider.moveDestination(
            destinationAE, calledAE: calledAE, callingAE: callingAE, host: peerHost)
        if !isGet, destination == nil {
            logger.warning("Move destination unknown: \(destinationAE.escapedForLog())")
            try await respond(.moveDestinationUnknown, nil, comment: "move destination \(destinationAE) unknown")
            return
        }
        let called = calledAE
        let found = try await BlockingPool.shared.run {
            () -> Result<([OutgoingFile], [String]), ServiceError> in
            let instances: [StoredInstance]
            do throws(ServiceError) { instances = try provider.instances(query, calledAE: called) } catch {
                return .failure(error)
            }
            // A file that no longer reads is a failed sub-operation, not a failed move.
            var files: [OutgoingFile] = []
            var unreadable: [String] = []
            for i in instances {
                do { files.append(try OutgoingFile(try HeaderScan.summary(path: i.path))) } catch {
                    unreadable.append(i.sopInstanceUID)
                }
            }
            return .success((files, unreadable))
        }
        let files: [OutgoingFile]
        var failedUIDs: [String]
        switch found {
        case .success(let (f, u)): (files, failedUIDs) = (f, u)
        case .failure(let error):
            logger.warning("Move refused: \(error)")
            try await respond(error.status ?? .unableToProcess, nil, comment: error.message)
            return
        }
        var counts = SubOperationCounts(remaining: files.count, failed: failedUIDs.count)
        if files.isEmpty {
            let status: DIMSEStatus = failedUIDs.isEmpty ? .success : .unableToPerformSubOperations
            counts.remaining = nil
            try await respond(status, counts, failed: failedUIDs)
            return
        }
        let stop = StopFlag()
        let (outcomes, continuation) = AsyncStream<StoreOutcome>.makeStream()
        var run: Task<Void, Never>?
        if let destination {
            var store = StoreSettings(host: destination.host, port: destination.port)
            store.association.callingAE = calledAE
            store.association.calledAE = destinationAE
            store.association.maxReceivePDU = settings.maxReceivePDU
            store.timeouts = settings.timeouts
            store.timeouts.connect = settings.moveConnectTimeout ?? store.timeouts.connect
            store.tls = settings.moveTLS
            store.proposal = settings.moveProposal
            store.retryPolicy = .dcmtk(halt: false)
            // Up to 16 sub-operations before their responses, where the destination grants it.
            store.asyncWindow = 16
            store.association.asyncOperationsWindow = AsyncOperationsWindow(maxInvoked: 16, maxPerformed: 1)
            store.moveOriginator = (callingAE, id)
            store.stop = stop
            store.onOutcome = { continuation.yield($0) }
            // Sub-operations over up to `moveAssociations` associations at once, sharing the
            // files a few at a time. The extra ones are optional: a destination that refuses
            // them, or leaves them waiting (a single-process storescp serves one association
            // at a time), does not take them within a few seconds, and the first one sends all.
            let parallel = max(1, min(settings.moveAssociations, files.count))
            let logger = self.logger
            store.share = SharedWork()
            run = Task { [store] in
                await withTaskGroup(of: Void.self) { group in
                    for i in 0..<parallel {
                        var settings = store
                        if i > 0 {
                            settings.optionalAssociation = true
                            settings.timeouts.acse = .seconds(3)
                        }
                        group.addTask { await StoreSCU(settings: settings, logger: logger).run(files) }
                    }
                }
                // Files an extra association gave back after the others had finished.
                var rounds = 0
                while let share = store.share, !share.isEmpty, rounds < 3, !stop.isSet {
                    rounds += 1
                    await StoreSCU(settings: store, logger: logger).run(files)
                }
                continuation.finish()
            }
        }
        var cancelled = false
        // With C-STOREs outstanding on this association, responses may be waiting: a cancel is
        // then seen by the response reader (takeCancel), not by polling.
        var polling = true
        func count(_ outcome: StoreOutcome) async throws {
            counts.remaining = (counts.remaining ?? 1) - 1
            if outcome.succeeded {
                if outcome.status?.category == .warning { counts.warning += 1 } else { counts.completed += 1 }
            } else {
                counts.failed += 1
                failedUIDs.append(outcome.sopInstanceUID)
            }
            if !cancelled, try await cancelRequested(id, on: association, poll: polling) {
                cancelled = true
                stop.stop()
                logger.info(
                    "\(isGet ? "Get" : "Move") cancelled with \(counts.remaining ?? 0) sub-operations not started")
            }
            if !cancelled, (counts.remaining ?? 0) > 0 { try await respond(.pending, counts) }
        }
        if let run {
            for await outcome in outcomes { try await count(outcome) }
            await run.value
        } else {
            // C-GET: the instances on this association, up to the Asynchronous Operations
            // Window the requestor granted (max-performed) before their responses.
            continuation.finish()
            var invention: UIDInvention?
            let sender = FileSender(policy: .dcmtk(preferred: nil), logger: logger)
            let window = association.invokeWindow
            var inFlight: [UInt16: StoreOutcome] = [:]
            func completeOne() async throws {
                let (messageID, response) = try await association.receiveStoreResponse()
                guard let begun = inFlight.removeValue(forKey: messageID) else { return }
                polling = inFlight.isEmpty
                try await count(sender.complete(begun, response: response))
            }
            for file in files {
                if cancelled { break }
                while inFlight.count >= window { try await completeOne() }
                if cancelled { break }
                let route = sender.route(
                    for: file, accepted: association.acceptedContexts, inventing: invention != nil)
                let (begun, messageID) = await sender.begin(
                    sender.prepare(file, route: route, invention: &invention), on: association)
                guard association.isUsable else { throw AssociationError.unusable }
                if let messageID {
                    inFlight[messageID] = begun
                    polling = false
                } else {
                    try await count(begun)
                }
            }
            while !inFlight.isEmpty { try await completeOne() }
        }
        let status: DIMSEStatus
        if cancelled {
            status = .cancel
        } else {
            counts.remaining = nil
            status =
                counts.failed == 0 && counts.warning == 0
                ? .success
                : (counts.completed == 0 && counts.warning == 0
                    ? .unableToPerformSubOperations : .subOperationsWithFailures)
        }
        let meaning =
            switch status {
            case .success: "success"
            case .cancel: "cancelled"
            case .unableToPerformSubOperations: "unable to perform sub-operations"
            default: "sub-operations complete, one or more failures"
            }
        logger.info("\(isGet ? "Get" : "Move") ended: 0x\(status.hex) (\(meaning)), \(counts)")
        try await respond(status, counts, failed: failedUIDs)
    }

    /// Test switches before a pending response: `sent` have gone already.
    private func beforePending(sent: Int, on association: Association) async throws {
        let switches = settings.switches
        if let n = switches.abortAfterResponses, sent >= n, switches.abortsDone.next() == 1 {
            logger.info("Aborting after \(n) pending responses (--abort-after-responses)")
            await association.abort()
            throw AssociationError.unusable
        }
        if switches.sleepBetweenResponses > .zero {
            try await Task.sleep(for: .nanoseconds(switches.sleepBetweenResponses.nanoseconds))
        }
    }

    private func stallBeforeFinal() async throws {
        let stall = settings.switches.stallBeforeFinal
        if stall > .zero {
            logger.info(
                "Stalling \(stall.nanoseconds / 1_000_000_000) s before the final response (--stall-before-final)")
            try await Task.sleep(for: .nanoseconds(stall.nanoseconds))
        }
    }

    /// Whether the peer has sent a C-CANCEL-RQ for message `id` (read without waiting). Any
    /// other request in the middle of an operation breaks PS3.7's one-operation rule.
    private func cancelRequested(_ id: UInt16, on association: Association, poll: Bool = true) async throws -> Bool {
        if association.takeCancel(respondingTo: id) { return true }
        guard poll else { return false }
        for part in try await association.poll() {
            switch part {
            case .command(let c, _) where c.field == .cCancelRQ:
                if c.messageIDBeingRespondedTo == id { return true }
            case .released, .aborted:
                throw AssociationError.closedByPeer(during: "a Query/Retrieve operation")
            default:
                throw AssociationError.protocolError("a request in the middle of a Query/Retrieve operation")
            }
        }
        return false
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
        } else if let refusal = store.refusal {
            store.file.discard()
            status = DIMSEStatus(0xA700)
            comment = refusal
            logger.error("Store refused (\((command.affectedSOPInstanceUID ?? "?").escapedForLog())): \(refusal)")
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
                if let stored, let provider = settings.queryRetrieve {
                    // The archive indexes the file; a refusal removes it and is answered.
                    do throws(ServiceError) { try provider.stored(path: stored.path, calledAE: calledAE) } catch {
                        status = error.status ?? DIMSEStatus(0xA700)
                        comment = error.message
                        logger.error(
                            "Store refused (\((command.affectedSOPInstanceUID ?? "?").escapedForLog())): \(error)")
                    }
                }
                if let stored, status.isSuccessOrWarning {
                    settings.commitment?.holdings.recordStored(
                        SOPReference(
                            sopClass: command.affectedSOPClassUID ?? "",
                            sopInstance: command.affectedSOPInstanceUID ?? ""),
                        path: stored.path)
                    afterStore(stored.path, completed: stored.completed)
                }
                if let n = settings.switches.abortAfterStoring, stored != nil,
                    settings.switches.storesReceived.next() == n
                {
                    logger.info("stored, aborting before the C-STORE-RSP (--abort-after-storing \(n))")
                    throw AssociationError.protocolError("--abort-after-storing")
                }
            case .failure(let refusal):
                status = refusal.status ?? DIMSEStatus(0xA700)
                comment = refusal.message
                logger.error("Store refused (\((command.affectedSOPInstanceUID ?? "?").escapedForLog())): \(refusal)")
            }
        }
        let response = CommandSet.storeRSP(
            respondingTo: command.messageID ?? 0, sopClass: command.affectedSOPClassUID ?? "",
            sopInstance: command.affectedSOPInstanceUID ?? "", status: status, errorComment: comment)
        if settings.switches.sleepAfter == .zero {
            try await association.sendResponse(response, contextID: store.contextID)
        } else {
            try await association.sendCommand(response, contextID: store.contextID)  // sent before the sleep
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
