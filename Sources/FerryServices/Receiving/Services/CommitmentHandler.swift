import FerryDICOM
import FerryNetwork
import Logging

/// Storage commitment on an accepted association: as SCP (N-ACTION) and, on Ferry's own
/// listener, as the requestor that takes reports (N-EVENT-REPORT).
final class CommitmentHandler {
    let context: SessionContext
    /// Reports sent on this association and not answered: their transactions by message ID.
    private var reportsSent: [UInt16: String] = [:]

    init(_ context: SessionContext) { self.context = context }

    private var association: Association { context.association }
    private var settings: ReceiverSettings { context.settings }
    private var logger: Logger { context.logger }
    private var callingAE: String { context.callingAE }
    private var calledAE: String { context.calledAE }

    /// N-ACTION-RQ (PS3.4 J.3.2): answered at once; the report follows after the service's
    /// delay, on this association or on a new one to the requestor.
    func serveRequest(_ command: CommandSet, contextID: UInt8, data: [UInt8]) async throws {
        guard let service = settings.commitment, let pc = association.context(contextID) else { return }
        func respond(_ status: DIMSEStatus) async throws {
            try await association.sendCommand(
                .actionRSP(
                    respondingTo: command.messageID ?? 0, sopClass: StorageCommitment.sopClass,
                    sopInstance: StorageCommitment.sopInstance, actionType: command.actionTypeID ?? 0, status: status),
                contextID: contextID)
        }
        guard command.requestedSOPClassUID == StorageCommitment.sopClass else {
            logger.warning("N-ACTION for SOP class \((command.requestedSOPClassUID ?? "none").escapedForLog()) refused")
            return try await respond(.sopClassNotSupported)
        }
        guard command.requestedSOPInstanceUID == StorageCommitment.sopInstance else {
            logger.warning(
                "N-ACTION for an instance other than the well-known \(StorageCommitment.sopInstance) refused")
            return try await respond(.noSuchSOPInstance)
        }
        guard command.actionTypeID == StorageCommitment.requestAction else {
            return try await respond(.noSuchActionType)
        }
        if let why = service.holdings.refusal(calledAE: calledAE) {
            logger.warning("Storage Commitment request from \(callingAE.escapedForLog()) refused: \(why)")
            return try await respond(.notAuthorized)
        }
        let request: CommitmentRequest
        do {
            let ds = try DataSetDecoder.decode(data, encoding: CommitmentExchange.encoding(pc))
            request = try CommitmentRequest(dataSet: ds)
        } catch {
            logger.warning("Storage Commitment request refused: \(error)")
            return try await respond((error as? ServiceError)?.status ?? .processingFailure)
        }
        try await respond(.success)
        logger.info(
            "Storage Commitment Request from \(callingAE.escapedForLog()): transaction \(request.transactionUID.escapedForLog()), \(request.references.count) instances"
        )
        // The holdings are checked when the report is made, after the delay.
        if let address = service.reportAddress?(callingAE) {
            let (ourAE, theirAE, timeouts, logger) = (calledAE, callingAE, settings.timeouts, logger)
            Task {
                if service.delay > .zero { try? await Task.sleep(for: .nanoseconds(service.delay.nanoseconds)) }
                let report = service.report(for: request, calledAE: ourAE)
                await service.deliverOnNewAssociation(
                    report, to: address, ourAE: ourAE, theirAE: theirAE, timeouts: timeouts, logger: logger)
            }
            return
        }
        // On this association: its response comes through the session's reader, in between
        // whatever the requestor sends meanwhile (its next N-ACTION, say).
        if service.delay > .zero { try await Task.sleep(for: .nanoseconds(service.delay.nanoseconds)) }
        let report = service.report(for: request, calledAE: calledAE)
        let id = try await CommitmentExchange.sendReport(report, on: association)
        reportsSent[id] = request.transactionUID
    }

    /// N-EVENT-REPORT-RSP to a report sent on this association.
    func reportAnswered(_ command: CommandSet) throws {
        let id = command.messageIDBeingRespondedTo ?? 0
        guard let transaction = reportsSent.removeValue(forKey: id) else {
            throw AssociationError.protocolError("N-EVENT-REPORT-RSP to message \(id), which is not outstanding")
        }
        logger.info(
            "Storage Commitment report \(transaction.escapedForLog()) answered: \(command.status ?? DIMSEStatus(0xFFFF))"
        )
    }

    /// N-EVENT-REPORT-RQ on Ferry's listener: the report goes to the run that waits for it.
    func receiveReport(_ command: CommandSet, contextID: UInt8, data: [UInt8]) async throws {
        let message = DIMSEMessage(command: command, contextID: contextID, dataSet: data)
        if let report = try await CommitmentExchange.receiveReport(message, on: association, logger: logger) {
            logger.info(
                "Storage Commitment report from \(callingAE.escapedForLog()): transaction \(report.transactionUID.escapedForLog()), \(report.committed.count) committed, \(report.failed.count) failed"
            )
            settings.commitmentInbox?.deliver(report)
        }
    }
}
