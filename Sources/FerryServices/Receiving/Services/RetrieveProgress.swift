import FerryDICOM
import FerryNetwork
import Logging

/// The responses of one C-MOVE or C-GET: the sub-operation counters, a pending response after
/// each sub-operation, the requestor's cancel, and the final status with the Failed SOP
/// Instance UID List. Owned by the retrieve's task.
final class RetrieveProgress {
    let request: QueryRequest
    let context: SessionContext
    let isGet: Bool
    private(set) var counts = SubOperationCounts()
    private var failedUIDs: [String] = []
    private var pendingSent = 0
    private(set) var cancelled = false
    /// Why the requestor's association can no longer be answered on (a C-GET's loop stops).
    var failure: Error?

    var logger: Logger { context.logger }

    init(_ request: QueryRequest, context: SessionContext) {
        self.request = request
        self.context = context
        isGet = request.command.field == .cGetRQ
    }

    /// `count` sub-operations to do.
    func start(count: Int) { counts = SubOperationCounts(remaining: count) }

    /// A sub-operation's outcome: counted, the cancel looked for (by polling the association
    /// only when `mayPoll`: nothing of ours awaits a response on it), a pending response sent.
    func count(_ outcome: StoreOutcome, mayPoll: Bool) async throws {
        counts.remaining = (counts.remaining ?? 1) - 1
        if outcome.succeeded {
            if outcome.status?.category == .warning { counts.warning += 1 } else { counts.completed += 1 }
        } else {
            counts.failed += 1
            failedUIDs.append(outcome.sopInstanceUID)
        }
        if !cancelled, try await request.cancelRequested(on: context.association, poll: mayPoll) {
            cancelled = true
            logger.info(
                "\(isGet ? "Get" : "Move") cancelled with \(counts.remaining ?? 0) sub-operations not started")
        }
        if !cancelled, (counts.remaining ?? 0) > 0 { try await respond(.pending, counts) }
    }

    /// A sub-operation that could not be attempted (its file no longer reads, its association
    /// is gone): failed, with no response of its own.
    func countUnanswered(_ sopInstanceUID: String) {
        counts.remaining = (counts.remaining ?? 1) - 1
        counts.failed += 1
        if !sopInstanceUID.isEmpty { failedUIDs.append(sopInstanceUID) }
    }

    /// The final response.
    func finish() async throws {
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
        try await respond(status, counts)
    }

    /// A response: pending ones paced by the fault injection, a failure's with the Failed SOP
    /// Instance UID List.
    func respond(_ status: DIMSEStatus, _ counts: SubOperationCounts?, comment: String? = nil) async throws {
        let (association, faults) = (context.association, context.faults)
        let list = status != .pending && status != .success && !failedUIDs.isEmpty
        if status == .pending {
            try await faults.apply(.pendingResponse(sent: pendingSent), logger: logger)
            pendingSent += 1
            if faults.noPendingResponses { return }
        } else {
            try await faults.apply(.finalResponse, logger: logger)
        }
        try await association.sendCommand(
            .queryRSP(
                isGet ? .cGetRSP : .cMoveRSP, respondingTo: request.messageID, sopClass: request.sopClass,
                status: status, hasDataSet: list, counts: counts, errorComment: comment),
            contextID: request.contextID)
        if list {
            var ds = DataSet()
            ds.set(QueryKeys.failedSOPInstanceUIDList, .UI, failedUIDs.joined(separator: "\\"))
            var source = BytesSource(try DataSetWriter(encoding: context.encoding(request.contextID)).encode(ds))
            try await association.sendDataSet(contextID: request.contextID, source: &source)
        }
    }
}
