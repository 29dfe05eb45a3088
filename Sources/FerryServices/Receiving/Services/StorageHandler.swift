import FerryDICOM
import FerryNetwork
import Logging
import NIOCore

/// Storage SCP (PS3.4 B, PS3.7 9.1.1): each C-STORE's data set goes to its file as its
/// fragments arrive (`ReceivedFile`); when whole, the file is put in place and indexed on the
/// blocking pool (never on the event loop: a slow disk or index stalls only this store), then
/// answered.
struct StorageHandler {
    let context: SessionContext
    let sorting: StudySorting
    let spares: SpareFiles?
    /// Read per fragment: kept here once rather than looked up through the settings each time.
    private let faults: FaultInjection
    private let maxInstanceBytes: Int

    init(_ context: SessionContext, sorting: StudySorting, spares: SpareFiles?) {
        self.context = context
        self.sorting = sorting
        self.spares = spares
        faults = context.settings.faults
        maxInstanceBytes = context.settings.limits.maxInstanceBytes
    }

    /// One store whose data set is arriving.
    final class Store: @unchecked Sendable {  // touched by one task at a time: the session's, then one pool thread
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
        var instance: String { (command.affectedSOPInstanceUID ?? "?").escapedForLog() }
    }

    /// A C-STORE-RQ's command: the file its data set goes to.
    func begin(_ command: CommandSet, contextID: UInt8) async throws -> Store {
        guard command.hasDataSet else { throw AssociationError.protocolError("C-STORE-RQ without a data set") }
        let settings = context.settings
        let ts = TransferSyntax.lookup(context.association.context(contextID)?.transferSyntax ?? "")
        let sopInstance = command.affectedSOPInstanceUID ?? ""
        // As DCMTK storescp -v: the request's arrival, before its data set (a stall shows on
        // which side it is).
        context.logger.info("Received Store Request: MsgID \(command.messageID ?? 0), \(sopInstance.escapedForLog())")
        try await faults.apply(.storeCommand, logger: context.logger)
        var output = settings.output
        var refusal: String?
        if let provider = settings.queryRetrieve {
            // Each AE title of an archive has its own storage area; a read-only one takes none.
            if let directory = provider.storageDirectory(calledAE: context.calledAE) {
                output.directory = directory
                output.keepExisting = true  // a duplicate must not replace the indexed file
            } else {
                output.ignore = true
                refusal = "\(context.calledAE) has no write access"
            }
        }
        let file = ReceivedFile(
            options: output, sopClass: command.affectedSOPClassUID ?? "", sopInstance: sopInstance,
            transferSyntax: ts ?? .implicitVRLittleEndian, callingAE: context.callingAE, spares: spares)
        return Store(
            command: command, contextID: contextID, file: file, deadline: .now() + settings.limits.storeTime,
            refusal: refusal)
    }

    /// How long the store may still take; past its deadline the store is dropped.
    func timeLeft(_ store: Store) throws -> TimeAmount {
        let left = store.deadline - .now()
        guard left > .zero else {
            store.file.discard()
            let limit = context.settings.limits.storeTime.nanoseconds / 1_000_000_000
            throw AssociationError.timeout("the store took longer than \(limit) s (--max-store-time)")
        }
        return left
    }

    /// A fragment of the data set. Written where it is received (page-cache writes, see
    /// docs/design.md); an instance over the size limit is refused, what follows is dropped.
    func receive(_ fragment: ByteBuffer, into store: Store) async throws {
        try await faults.apply(.storeFragment, logger: context.logger)
        store.file.append(fragment)
        if store.file.bytesReceived > maxInstanceBytes {
            store.file.refuse(
                .outOfResources("the instance is larger than \(maxInstanceBytes) bytes (--max-instance-size)"))
        }
    }

    /// A store whose data set is in, waiting for its answer: known now (a refusal), or once its
    /// file is kept on the blocking pool.
    struct Pending {
        let store: Store
        let outcome: Outcome
        enum Outcome {
            case now(DIMSEStatus, comment: String?)
            case keeping(EventLoopFuture<Result<Bool, ServiceError>>)
        }
    }

    /// The whole data set is in: refused, or its file kept on the blocking pool while the
    /// session reads on (`answer` sends the response).
    func finish(_ store: Store) async throws -> Pending {
        try await faults.apply(.storeReceived, logger: context.logger)
        if let forced = faults.status, faults.refusesStores {
            store.file.discard()
            return Pending(store: store, outcome: .now(forced, comment: "status forced by --status"))
        }
        if let refusal = store.refusal {
            store.file.discard()
            context.logger.error("Store refused (\(store.instance)): \(refusal)")
            return Pending(store: store, outcome: .now(DIMSEStatus(0xA700), comment: refusal))
        }
        return Pending(store: store, outcome: .keeping(keep(store)))
    }

    /// A finished store's response, once its file is kept (or refused).
    func answer(_ pending: Pending) async throws {
        var status = DIMSEStatus.success
        var comment: String?
        switch pending.outcome {
        case .now(let s, let c): (status, comment) = (s, c)
        case .keeping(let keeping):
            switch try await keeping.get() {
            case .success(let kept):
                status = faults.status ?? .success
                if kept { try await faults.apply(.storeKept, logger: context.logger) }
            case .failure(let refusal):
                (status, comment) = (refusal.status ?? DIMSEStatus(0xA700), refusal.message)
                context.logger.error("Store refused (\(pending.store.instance)): \(refusal)")
            }
        }
        let command = pending.store.command
        let response = CommandSet.storeRSP(
            respondingTo: command.messageID ?? 0, sopClass: command.affectedSOPClassUID ?? "",
            sopInstance: command.affectedSOPInstanceUID ?? "", status: status, errorComment: comment)
        if faults.sleepAfter > .zero {
            // Sent before the sleep, not held with the next responses.
            try await context.association.sendCommand(response, contextID: pending.store.contextID)
        } else {
            try await context.association.sendResponse(response, contextID: pending.store.contextID)
        }
        try await faults.apply(.storeAnswered, logger: context.logger)
    }

    /// The file put in place, indexed in an archive, and announced (commitment holdings, exec
    /// hooks): on the blocking pool, completing on the association's event loop. false: nothing
    /// kept (--ignore); a failure is the refusal to answer with (the file is removed).
    private func keep(_ store: Store) -> EventLoopFuture<Result<Bool, ServiceError>> {
        let (sorting, faults, logger) = (self.sorting, self.faults, context.logger)
        let (provider, calledAE) = (context.settings.queryRetrieve, context.calledAE)
        let announce = Announcement(context)
        return BlockingPool.shared.start(completingOn: context.association.eventLoop) {
            faults.applyToStorageWrite(logger: logger)
            do throws(ServiceError) {
                guard let kept = try store.file.commit(sorting: sorting) else { return .success(false) }
                // The archive indexes the file; a refusal removes it and is answered.
                try provider?.stored(path: kept.path, calledAE: calledAE)
                announce.stored(store, kept)
                return .success(true)
            } catch {
                return .failure(error)
            }
        }
    }
}

/// What is told of a kept instance: the commitment holdings, the log, the exec hooks.
private struct Announcement: Sendable {
    let settings: ReceiverSettings
    let logger: Logger
    let callingAE: String
    let calledAE: String
    let peer: String

    init(_ context: SessionContext) {
        (settings, logger, callingAE, calledAE, peer) = (
            context.settings, context.logger, context.callingAE, context.calledAE, context.peer
        )
    }

    func stored(
        _ store: StorageHandler.Store, _ kept: (path: String, study: String, completed: StudySorting.CompletedStudy?)
    ) {
        let reference = SOPReference(
            sopClass: store.command.affectedSOPClassUID ?? "", sopInstance: store.command.affectedSOPInstanceUID ?? "")
        settings.commitment?.holdings.recordStored(reference, path: kept.path)
        settings.onKept?(KeptInstance(reference: reference, study: kept.study, path: kept.path, callingAE: callingAE))
        let path = kept.path
        let slash = path.lastIndex(of: "/")
        let directory = String(path[..<(slash ?? path.endIndex)])
        let name = String(path[(slash.map { path.index(after: $0) } ?? path.startIndex)...])
        logger.info("Stored \(path)")
        let hooks = settings.hooks
        if let completed = kept.completed {
            hooks.studyCompleted(completed, callingAE: callingAE, calledAE: calledAE, peer: peer, logger: logger)
        }
        if let command = hooks.onReception {
            hooks.execute(
                ExecHooks.expand(
                    command, directory: directory, file: name, callingAE: callingAE, calledAE: calledAE, peer: peer),
                logger: logger)
        }
    }
}
