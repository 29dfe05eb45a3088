import FerryDICOM
import FerryNetwork
import Logging
import NIOCore

/// What both ends of Storage Commitment do on an association: send a DIMSE-N request with its
/// information, read a report out of an N-EVENT-REPORT-RQ and answer it, deliver a report.
enum CommitmentExchange {
    /// The first accepted Storage Commitment Push Model context.
    static func context(on association: Association) -> AcceptedContext? {
        association.acceptedContexts.first { $0.abstractSyntax == StorageCommitment.sopClass }
    }

    static func encoding(_ context: AcceptedContext) -> Encoding {
        Encoding(TransferSyntax.lookup(context.transferSyntax) ?? .implicitVRLittleEndian)
    }

    /// A command and its data set, encoded in the context's transfer syntax.
    static func send(
        _ command: CommandSet, _ dataSet: DataSet, on association: Association, context: AcceptedContext
    )
        async throws
    {
        var source = BytesSource(try DataSetWriter(encoding: encoding(context)).encode(dataSet))
        try await association.sendCommand(command, contextID: context.id)
        try await association.sendDataSet(contextID: context.id, source: &source)
    }

    /// The report an N-EVENT-REPORT-RQ carries, answered: success when it was read, 0110
    /// (processing failure) when it was not, as PS3.4 J.3.3.1 asks of the SCU either way.
    static func receiveReport(
        _ message: DIMSEMessage, on association: Association, logger: Logger
    ) async throws
        -> CommitmentReport?
    {
        let command = message.command
        var report: CommitmentReport?
        var status = DIMSEStatus.success
        if command.affectedSOPClassUID != StorageCommitment.sopClass {
            status = .sopClassNotSupported
        } else if let context = association.context(message.contextID) {
            do {
                let ds = try DataSetDecoder.decode(message.dataSet ?? [], encoding: encoding(context))
                report = try CommitmentReport(dataSet: ds)
            } catch {
                logger.warning(
                    "\(association.peerDescription): an N-EVENT-REPORT that cannot be read: \(error) (answered 0110)")
                status = .processingFailure
            }
        }
        try await association.sendCommand(
            .eventReportRSP(
                respondingTo: command.messageID ?? 0,
                sopClass: command.affectedSOPClassUID ?? StorageCommitment.sopClass,
                sopInstance: command.affectedSOPInstanceUID ?? StorageCommitment.sopInstance,
                eventType: command.eventTypeID ?? 0, status: status),
            contextID: message.contextID)
        return report
    }

    /// Sends `report` as an N-EVENT-REPORT-RQ; its message ID.
    static func sendReport(_ report: CommitmentReport, on association: Association) async throws -> UInt16 {
        guard let context = context(on: association) else { throw AssociationError.noAcceptedContext }
        let id = association.makeMessageID()
        try await send(
            .eventReportRQ(
                messageID: id, sopClass: StorageCommitment.sopClass, sopInstance: StorageCommitment.sopInstance,
                eventType: report.eventType), report.dataSet, on: association, context: context)
        return id
    }

    /// Sends `report` as an N-EVENT-REPORT-RQ and waits for its response's status (on an
    /// association that carries nothing else).
    static func deliver(_ report: CommitmentReport, on association: Association) async throws -> DIMSEStatus {
        let id = try await sendReport(report, on: association)
        let response = try await association.receiveMessage(
            timeout: association.timeouts.dimseWait, what: "waiting for N-EVENT-REPORT-RSP (DIMSE timeout)")
        guard response.command.field == .nEventReportRSP, response.command.messageIDBeingRespondedTo == id else {
            throw AssociationError.protocolError(
                "expected N-EVENT-REPORT-RSP to message \(id), got command 0x\(String(response.command.rawField ?? 0, radix: 16))"
            )
        }
        return response.command.status ?? DIMSEStatus(0xFFFF)
    }
}
