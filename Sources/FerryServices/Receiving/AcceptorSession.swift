import FerryDICOM
import FerryNetwork
import Logging
import NIOCore

/// One association accepted by the receiver, from A-ASSOCIATE-RQ to release or abort: it
/// negotiates (`decide`), reads DIMSE messages and hands each request to the handler of its
/// service: verification, storage, find, retrieve (C-MOVE, C-GET), storage commitment. A
/// C-STORE's data set goes to its file as its fragments arrive; other requests' data sets are
/// small and handed over whole.
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
    /// The receiver's limits this connection is counted in: among the waiting connections
    /// until its request arrives, then among the associations if it is accepted.
    let gate: Gate?
    /// Counted among the associations (to be given back when the session ends).
    var counted = false
    /// This association holds its area's storage (--no-parallel-store) until it ends.
    var claimedStorage: String?

    init(
        channel: PDUChannel, settings: ReceiverSettings, sorting: StudySorting, spares: SpareFiles? = nil,
        logger: Logger, peerHost: String, peerPort: Int, gate: Gate? = nil
    ) {
        self.spares = spares
        self.gate = gate
        self.channel = channel
        self.settings = settings
        self.sorting = sorting
        self.logger = logger
        self.peerHost = peerHost
        self.peer = peerHost.contains(":") ? "[\(peerHost)]:\(peerPort)" : "\(peerHost):\(peerPort)"
    }

    /// The counts a receiver keeps of its connections, and this connection's ticket.
    struct Gate {
        let associations: AssociationCount
        let waiting: WaitingConnections
        let ticket: Int
    }

    func run() async {
        defer {
            if let ae = claimedStorage { settings.storageClaims?.release(ae) }
            gate?.waiting.leave(gate?.ticket ?? 0)
            if counted { gate?.associations.leave(peerHost) }
        }
        let association: Association
        do {
            guard
                let accepted = try await Association.accept(
                    channel: channel, peer: peer, timeouts: settings.timeouts, maxReceivePDU: settings.maxReceivePDU,
                    logger: logger, decide: decide)
            else { return }
            association = accepted
        } catch {
            // A connection closed to make room for others is counted, not logged one by one.
            if let gate, gate.waiting.leave(gate.ticket) { return }
            log(error)
            return
        }
        let window = association.acceptance.userInformation.asyncOperationsWindow.map {
            ", asynchronous operations window \($0.maxInvoked) invoked/\($0.maxPerformed) performed"
        }
        logger.info(
            "Association Received from \(peer): \(association.callingAE.escapedForLog()) -> \(association.calledAE.escapedForLog()), \(association.acceptedContexts.count) of \(association.acceptance.presentationContexts.count) contexts accepted\(window ?? "")"
        )
        let context = SessionContext(
            association: association, settings: settings, logger: logger, peer: peer, peerHost: peerHost)
        var phase = Phase.idle
        do {
            try await serve(Handlers(context, sorting: sorting, spares: spares), &phase)
        } catch {
            if case .storeData(let store) = phase { store.file.discard() }
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

    /// The service handlers of one association.
    private struct Handlers {
        let context: SessionContext
        let verification: VerificationHandler
        let storage: StorageHandler
        let find: FindHandler
        let retrieve: RetrieveHandler
        let commitment: CommitmentHandler

        init(_ context: SessionContext, sorting: StudySorting, spares: SpareFiles?) {
            self.context = context
            verification = VerificationHandler(context)
            storage = StorageHandler(context, sorting: sorting, spares: spares)
            find = FindHandler(context)
            retrieve = RetrieveHandler(context)
            commitment = CommitmentHandler(context)
        }
    }

    private enum Phase {
        case idle
        case storeData(StorageHandler.Store)
        case discardData
        /// A request's data set arriving (a C-FIND/C-MOVE/C-GET identifier, an N-ACTION's or
        /// N-EVENT-REPORT's information): the command, its context, the bytes so far, and when
        /// the whole data set must have arrived (the socket timeout from its command).
        case requestData(CommandSet, UInt8, [UInt8], deadline: NIODeadline?)
    }

    /// Identifiers are small; a longer one is refused (as command sets are).
    static let maxIdentifierLength = 1 << 20
    /// Stores whose files are being kept on the pool while the next ones are read, at most.
    static let maxKeeping = 16

    private func serve(_ handlers: Handlers, _ phase: inout Phase) async throws {
        let association = handlers.context.association
        // Finished stores waiting for their answers, in the order of their requests.
        var keeping: [StorageHandler.Pending] = []
        while true {
            try await answer(&keeping, handlers.storage, all: false)
            var timeout = settings.timeouts.dimseWait
            var what = "waiting for a DIMSE message (DIMSE/socket timeout)"
            if case .storeData(let store) = phase {
                // The whole store has a deadline: a peer trickling its data set under the
                // DIMSE timeout is cut off when the store has taken the limit.
                let left = try handlers.storage.timeLeft(store)
                if timeout.map({ left < $0 }) ?? true {
                    timeout = left
                    what = "the store's data set (--max-store-time)"
                }
            }
            if case .requestData(_, _, _, let deadline?) = phase {
                // A request's data set is small: a peer trickling it is cut off at the socket
                // timeout, however many PDUs it spreads it over.
                let left = deadline - .now()
                // Said as the receive's own timeout says it: which one fires is a race.
                guard left > .zero else {
                    throw AssociationError.timeout("a request's data set (whole within the socket timeout)")
                }
                if timeout.map({ left < $0 }) ?? true {
                    timeout = left
                    what = "a request's data set (whole within the socket timeout)"
                }
            }
            let parts = try await association.receive(timeout: timeout, what: what)
            batch: for (i, part) in parts.enumerated() {
                switch (part, phase) {
                case (.command(let command, let contextID), _):
                    if command.field != .cStoreRQ { try await answer(&keeping, handlers.storage, all: true) }
                    phase = try await dispatch(command, contextID: contextID, to: handlers)
                case (.data(let fragment, _, let isLast), .storeData(let store)):
                    try await handlers.storage.receive(fragment, into: store)
                    if isLast {
                        phase = .idle
                        keeping.append(try await handlers.storage.finish(store))
                    }
                case (.data(_, _, let isLast), .discardData):
                    if isLast { phase = .idle }
                case (
                    .data(let fragment, _, let isLast),
                    .requestData(let command, let contextID, var bytes, let deadline)
                ):
                    guard bytes.count + fragment.readableBytes <= Self.maxIdentifierLength else {
                        throw AssociationError.protocolError("an identifier longer than 1 MiB")
                    }
                    bytes += fragment.readableBytesView
                    phase = isLast ? .idle : .requestData(command, contextID, bytes, deadline: deadline)
                    guard isLast else { break }
                    // What followed in the same read goes back to the reader first: a C-CANCEL-RQ
                    // (or a request that must not be queued) that came with the request is seen
                    // while it is served.
                    association.putBack(parts[(i + 1)...])
                    try await serve(command, contextID: contextID, data: bytes, with: handlers)
                    break batch
                case (.data, .idle):
                    // The reader lets through only data sets announced by a command.
                    throw AssociationError.protocolError("data set fragment without a command")
                case (.released, _):
                    if case .storeData(let store) = phase { store.file.discard() }
                    try? await answer(&keeping, handlers.storage, all: true)
                    logger.info("Association Release from \(peer)")
                    return
                case (.aborted(let a), _):
                    if case .storeData(let store) = phase { store.file.discard() }
                    logger.info("Association Aborted by \(peer) (\(a))")
                    return
                }
            }
        }
    }

    /// Answers the finished stores: all of them when `all` (another request comes), when nothing
    /// more has arrived to read (the peer waits for them) or when `maxKeeping` wait; otherwise
    /// their files go on being kept on the pool while the next store is read.
    private func answer(_ keeping: inout [StorageHandler.Pending], _ storage: StorageHandler, all: Bool) async throws {
        guard !keeping.isEmpty else { return }
        if !all, keeping.count < Self.maxKeeping, try await storage.context.association.hasArrived() { return }
        let answering = keeping
        keeping = []
        for pending in answering { try await storage.answer(pending) }
    }

    /// A request's command: served at once, or the phase that reads its data set.
    private func dispatch(_ command: CommandSet, contextID: UInt8, to handlers: Handlers) async throws -> Phase {
        guard handlers.context.association.context(contextID) != nil else {
            throw AssociationError.protocolError("no such context")
        }
        let archive = settings.queryRetrieve != nil
        switch command.field {
        case .cEchoRQ?:
            try await handlers.verification.serve(command, contextID: contextID)
            return command.hasDataSet ? .discardData : .idle
        case .cStoreRQ?:
            return .storeData(try await handlers.storage.begin(command, contextID: contextID))
        case .cFindRQ? where archive, .cMoveRQ? where archive, .cGetRQ? where archive && settings.queryRetrieveGet,
            .nActionRQ? where settings.commitment != nil, .nEventReportRQ? where settings.commitmentInbox != nil:
            guard command.hasDataSet else {
                throw AssociationError.protocolError("a \(command.field?.name ?? "request") without its data set")
            }
            return .requestData(command, contextID, [], deadline: settings.timeouts.socket.map { .now() + $0 })
        case .nEventReportRSP? where !command.hasDataSet:
            try handlers.commitment.reportAnswered(command)
            return .idle
        case .cCancelRQ?:
            // A cancel after its operation ended (the responses crossed): nothing to do.
            return .idle
        default:
            throw AssociationError.protocolError(
                "unsupported DIMSE command 0x\(String(command.rawField ?? 0, radix: 16))")
        }
    }

    /// A request whose data set is whole.
    private func serve(_ command: CommandSet, contextID: UInt8, data: [UInt8], with handlers: Handlers) async throws {
        switch command.field {
        case .nActionRQ?: try await handlers.commitment.serveRequest(command, contextID: contextID, data: data)
        case .nEventReportRQ?: try await handlers.commitment.receiveReport(command, contextID: contextID, data: data)
        case .cFindRQ?: try await handlers.find.serve(command, contextID: contextID, identifier: data)
        default: try await handlers.retrieve.serve(command, contextID: contextID, identifier: data)
        }
    }
}
