import FerryDICOM
import FerryNetwork
import Logging

/// Retrieve SCP, C-MOVE (PS3.4 C.4.2) and C-GET (C.4.3): the matches' instances sent, for
/// C-MOVE to the destination over storage associations of our own (calling AE: the AE title
/// the mover called), each C-STORE-RQ naming the move's originator; for C-GET on this very
/// association, in the contexts the requestor offered with the SCP role. Both through the
/// one send loop (`SendLoop`). A pending response with the four counters after each
/// sub-operation; C-CANCEL stops before the next one (FE00 with the counts). Final status:
/// 0000 all stored, B000 some failed or warned, A702 all failed (with the Failed SOP Instance
/// UID List), A801 an unknown move destination.
struct RetrieveHandler {
    let context: SessionContext
    init(_ context: SessionContext) { self.context = context }

    func serve(_ command: CommandSet, contextID: UInt8, identifier: [UInt8]) async throws {
        guard let provider = context.settings.queryRetrieve,
            let request = try await QueryRequest.read(
                command, contextID: contextID, identifier: identifier, in: context)
        else { return }
        let progress = RetrieveProgress(request, context: context)
        let isGet = progress.isGet
        let (logger, query) = (context.logger, request.query)
        let destinationAE = command.moveDestination ?? ""
        logger.info(
            "Received \(isGet ? "Get" : "Move") Request: MsgID \(request.messageID), \(query.model.rawValue) \(query.level.rawValue)\(isGet ? "" : ", to \(destinationAE.escapedForLog())"), from \(context.callingAE.escapedForLog())"
        )
        let destination = provider.moveDestination(
            destinationAE, calledAE: context.calledAE, callingAE: context.callingAE, host: context.peerHost)
        if !isGet, destination == nil {
            logger.warning("Move destination unknown: \(destinationAE.escapedForLog())")
            return try await progress.respond(
                .moveDestinationUnknown, nil, comment: "move destination \(destinationAE) unknown")
        }
        let instances: any RetrieveInstances
        do throws(ServiceError) { instances = try await Self.match(query, calledAE: context.calledAE, provider) } catch
        {
            logger.warning("\(isGet ? "Get" : "Move") refused: \(error)")
            return try await progress.respond(error.status ?? .unableToProcess, nil, comment: error.message)
        }
        progress.start(count: instances.count)
        // A page of instances at a time: their headers read, then their sub-operations.
        while !progress.cancelled, progress.failure == nil,
            let page = try await Self.nextPage(instances, size: context.settings.retrievePage)
        {
            let files: [OutgoingFile]
            switch page {
            case .success(let (readable, unreadable)):
                for uid in unreadable { progress.countUnanswered(uid) }
                files = readable
            case .failure(let error):
                logger.warning("\(isGet ? "Get" : "Move") stopped: \(error)")
                return try await progress.respond(error.status ?? .unableToProcess, nil, comment: error.message)
            }
            guard !files.isEmpty else { continue }
            if let destination {
                try await move(files, to: destination, ae: destinationAE, progress: progress)
            } else {
                try await get(files, progress: progress)
            }
        }
        try await progress.finish()
    }

    /// The retrieve's instances, matched on the blocking pool.
    private static func match(
        _ query: Query, calledAE: String, _ provider: any QueryRetrieveProvider
    ) async throws(ServiceError) -> any RetrieveInstances {
        let result = try? await BlockingPool.shared.run { () -> Result<any RetrieveInstances, ServiceError> in
            do throws(ServiceError) { return .success(try provider.retrieve(query, calledAE: calledAE)) } catch {
                return .failure(error)
            }
        }
        guard let result else { throw ServiceError(.refused, "the blocking pool is stopped", status: .unableToProcess) }
        return try result.get()
    }

    /// The next page's files, read on the blocking pool; a file that no longer reads is a
    /// failed sub-operation (its UID), not a failed retrieve. Nil when there are no more.
    private static func nextPage(
        _ instances: any RetrieveInstances, size: Int
    ) async throws -> Result<([OutgoingFile], [String]), ServiceError>? {
        try await BlockingPool.shared.run { () -> Result<([OutgoingFile], [String]), ServiceError>? in
            let page: [StoredInstance]
            do throws(ServiceError) {
                guard let next = try instances.next(limit: size) else { return nil }
                page = next
            } catch {
                return .failure(error)
            }
            var files: [OutgoingFile] = []
            var unreadable: [String] = []
            for i in page {
                do { files.append(try OutgoingFile(try HeaderScan.summary(path: i.path))) } catch {
                    unreadable.append(i.sopInstanceUID)
                }
            }
            return .success((files, unreadable))
        }
    }

    /// C-GET: the sub-operations on this association, up to the Asynchronous Operations
    /// Window the requestor granted (its max-performed) before their responses.
    private func get(_ files: [OutgoingFile], progress: RetrieveProgress) async throws {
        let association = context.association
        let subOperations = GetSubOperations(files: files, association: association, progress: progress)
        let configuration = SendStateMachine.Configuration(
            policy: .dcmtk(halt: false), window: association.invokeWindow)
        _ = await SendLoop.run(subOperations, configuration: configuration)
        if let error = progress.failure { throw error }
        guard association.isUsable else { throw AssociationError.unusable }
    }

    /// C-MOVE: the sub-operations over up to `moveAssociations` associations of our own to the
    /// destination, sharing the files a few at a time. The extra ones are optional: a
    /// destination that refuses them, or leaves them waiting (a single-process storescp serves
    /// one association at a time), does not take them within a few seconds, and the first one
    /// sends all.
    private func move(
        _ files: [OutgoingFile], to destination: (host: String, port: Int), ae destinationAE: String,
        progress: RetrieveProgress
    ) async throws {
        let settings = context.settings
        let stop = StopFlag()
        let (outcomes, continuation) = AsyncStream<StoreOutcome>.makeStream()
        var store = StoreSettings(host: destination.host, port: destination.port)
        store.association.callingAE = context.calledAE
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
        store.moveOriginator = (context.callingAE, progress.request.messageID)
        store.stop = stop
        store.onOutcome = { continuation.yield($0) }
        store.share = SharedWork()
        let parallel = max(1, min(settings.moveAssociations, files.count))
        let logger = context.logger
        let run = Task { [store] in
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
        for await outcome in outcomes {
            do {
                try await progress.count(outcome, mayPoll: true)
            } catch {
                stop.stop()
                await run.value
                throw error
            }
            if progress.cancelled { stop.stop() }
        }
        await run.value
    }
}

/// C-GET's sub-operations as a send loop's work: the files, on the requestor's association.
private final class GetSubOperations: SendLoopDelegate {
    let files: [OutgoingFile]
    let association: Association
    let progress: RetrieveProgress
    let journal = MemoryJournal()
    private var given = false
    private var opened = false
    /// Stores whose responses have not been read: while there are any, the response reader
    /// keeps the requestor's C-CANCEL-RQ, and polling would take their responses.
    private var awaiting = 0
    private var invention: UIDInvention?
    private let sender: FileSender

    init(files: [OutgoingFile], association: Association, progress: RetrieveProgress) {
        self.files = files
        self.association = association
        self.progress = progress
        sender = FileSender(policy: .dcmtk(preferred: nil), logger: progress.logger)
    }

    var stopRequested: Bool { progress.cancelled || progress.failure != nil }

    func takeWork(preferring plan: Int?) async -> (plan: Int, files: [Int])? {
        guard !given else { return nil }
        given = true
        return (0, Array(files.indices))
    }

    func putBack(plan: Int, files: [Int]) async {}

    /// The requestor's association, once: after it failed there is no other.
    func open(plan: Int) async throws -> (association: Association, id: Int) {
        guard !opened, association.isUsable else { throw AssociationError.unusable }
        opened = true
        return (association, 1)
    }

    func begin(
        _ file: Int, upcoming: ArraySlice<Int>, on association: Association
    ) async -> (outcome: StoreOutcome, messageID: UInt16?) {
        let begun = await sender.begin(files[file], on: association, invention: &invention)
        if begun.messageID != nil { awaiting += 1 }
        return begun
    }

    func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome {
        awaiting -= 1
        return sender.complete(outcome, response: response)
    }

    func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome {
        awaiting -= 1
        return sender.failed(outcome, error)
    }

    func recorded(_ file: Int, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition) async {
        do { try await progress.count(outcome, mayPoll: awaiting == 0) } catch { progress.failure = error }
    }

    func failUnsent(_ unsent: [Int], _ error: ServiceError) {
        for i in unsent { progress.countUnanswered(files[i].sopInstanceUID) }
    }

    func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle { .wait }

    /// The association is the requestor's: it stays open for the C-GET's final response.
    func close(_ association: Association, _ mode: SendStateMachine.Close) async {}

    func journalFailed(_ error: Error) {}
}
