import FerryNetwork
import Logging

/// The requestor of storage commitment (PS3.4 J.3.2): N-ACTIONs sent on an association, their
/// reports taken in any order, on that association or through the inbox Ferry's listener
/// fills (an SCP may use either; Orthanc always opens a new association).
public enum CommitmentSCU {
    public enum Outcome: Sendable, Equatable {
        case report(CommitmentReport)
        /// The N-ACTION was answered with a failure: nothing was asked.
        case refused(DIMSEStatus, comment: String?)
        /// No report within the wait: the transaction is still outstanding.
        case noReport
    }

    /// Sends the requests (calling `asked` after each N-ACTION-RSP success), then waits up to
    /// `wait` for their reports. The association is released at the end.
    public static func commit(
        _ requests: [CommitmentRequest], on association: Association, inbox: CommitmentInbox, wait: Duration,
        logger: Logger, asked: (CommitmentRequest) async throws -> Void = { _ in }
    ) async throws -> [String: Outcome] {
        guard let context = CommitmentExchange.context(on: association) else {
            throw AssociationError.noAcceptedContext
        }
        var outcomes: [String: Outcome] = [:]
        var pending: [String] = []
        for request in requests {
            let id = association.makeMessageID()
            try await CommitmentExchange.send(
                .actionRQ(
                    messageID: id, sopClass: StorageCommitment.sopClass, sopInstance: StorageCommitment.sopInstance,
                    actionType: StorageCommitment.requestAction), request.dataSet, on: association, context: context)
            while true {
                let m = try await association.receiveMessage(
                    timeout: association.timeouts.dimseWait, what: "waiting for N-ACTION-RSP (DIMSE timeout)")
                if m.command.field == .nEventReportRQ {
                    try await take(m, on: association, into: inbox, logger: logger)
                    continue
                }
                guard m.command.field == .nActionRSP, m.command.messageIDBeingRespondedTo == id else {
                    throw AssociationError.protocolError(
                        "expected N-ACTION-RSP to message \(id), got command 0x\(String(m.command.rawField ?? 0, radix: 16))"
                    )
                }
                let status = m.command.status ?? DIMSEStatus(0xFFFF)
                if status.isSuccessOrWarning {
                    pending.append(request.transactionUID)
                    try await asked(request)
                } else {
                    outcomes[request.transactionUID] = .refused(status, comment: m.command.errorComment)
                }
                break
            }
        }
        let deadline = ContinuousClock.now + wait
        var listening = association.isUsable
        while true {
            pending.removeAll { tx in
                guard let report = inbox.take(tx) else { return false }
                outcomes[tx] = .report(report)
                return true
            }
            if pending.isEmpty || ContinuousClock.now >= deadline { break }
            if listening {
                do {
                    if try await association.hasArrived() {
                        let m = try await association.receiveMessage(
                            timeout: association.timeouts.dimseWait, what: "reading an N-EVENT-REPORT (DIMSE timeout)")
                        guard m.command.field == .nEventReportRQ else {
                            await association.abort()
                            throw AssociationError.protocolError(
                                "expected N-EVENT-REPORT-RQ, got command 0x\(String(m.command.rawField ?? 0, radix: 16))"
                            )
                        }
                        try await take(m, on: association, into: inbox, logger: logger)
                        continue
                    }
                } catch let e as AssociationError {
                    // The association ended (or broke): reports can still come on a new one.
                    logger.info("\(association.peerDescription) ended the commitment association: \(e.message)")
                    listening = false
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        for tx in pending { outcomes[tx] = .noReport }
        if association.isUsable { try? await association.release() }
        return outcomes
    }

    private static func take(
        _ m: DIMSEMessage, on association: Association, into inbox: CommitmentInbox, logger: Logger
    ) async throws {
        if let report = try await CommitmentExchange.receiveReport(m, on: association, logger: logger) {
            inbox.deliver(report)
        }
    }
}
