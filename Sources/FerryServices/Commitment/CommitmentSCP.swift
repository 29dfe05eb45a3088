import FerryDICOM
import FerryNetwork
import Glibc
import Logging
import NIOCore
import Synchronization

/// What an SCP holds, as storage commitment asks it: nil when the instance is held (its file
/// is there), else the Failure Reason (PS3.4 J.3.3.1.1).
public protocol CommitmentHoldings: Sendable {
    func failureReason(for reference: SOPReference, calledAE: String) -> UInt16?
    /// Why requests to `calledAE` are refused (0124, not authorized), or nil: an area that
    /// cannot be read answers no question about what it holds, as C-FIND does not.
    func refusal(calledAE: String) -> String?
    /// A file the receiver has just stored (holdings that keep their own index ignore it).
    func recordStored(_ reference: SOPReference, path: String)
}

extension CommitmentHoldings {
    public func recordStored(_ reference: SOPReference, path: String) {}
    public func refusal(calledAE: String) -> String? { nil }
}

/// `ferry storescp`'s holdings: the instances this process stored, while their files exist.
public final class ReceivedInstances: CommitmentHoldings {
    private let files = Mutex<[String: (sopClass: String, path: String)]>([:])
    public init() {}

    public func recordStored(_ reference: SOPReference, path: String) {
        files.withLock { $0[reference.sopInstance] = (reference.sopClass, path) }
    }

    public func failureReason(for reference: SOPReference, calledAE: String) -> UInt16? {
        guard let file = files.withLock({ $0[reference.sopInstance] }), access(file.path, F_OK) == 0 else {
            return StorageCommitment.noSuchObjectInstance
        }
        return file.sopClass == reference.sopClass ? nil : StorageCommitment.classInstanceConflict
    }
}

/// Storage commitment as `ferry storescp` and `ferry qrscp` serve it (the SCP of the Push
/// Model): N-ACTION answered at once, the report sent after `delay`, on the requesting
/// association or, with `reportTo`, on a new one the SCP opens to the requestor (proposing
/// the SCP role, as PS3.4 J.3.3 asks).
public struct CommitmentService: Sendable {
    public var holdings: any CommitmentHoldings
    /// Where the report to a requestor (by its calling AE) goes on a new association; nil,
    /// or no address for it: on the association that asked.
    public var reportAddress: (@Sendable (_ callingAE: String) -> (host: String, port: Int)?)?
    /// How long after the request the report is sent (a test switch: a slow PACS).
    public var delay: TimeAmount = .zero
    public var tls: TLSClient?

    public init(holdings: any CommitmentHoldings) { self.holdings = holdings }

    func report(for request: CommitmentRequest, calledAE: String) -> CommitmentReport {
        var committed: [SOPReference] = []
        var failed: [CommitmentReport.Failure] = []
        for r in request.references {
            if let reason = holdings.failureReason(for: r, calledAE: calledAE) {
                failed.append(CommitmentReport.Failure(reference: r, reason: reason))
            } else {
                committed.append(r)
            }
        }
        return CommitmentReport(transactionUID: request.transactionUID, committed: committed, failed: failed)
    }

    /// The report on a new association from `ourAE` to the requestor `theirAE` at `address`.
    func deliverOnNewAssociation(
        _ report: CommitmentReport, to address: (host: String, port: Int), ourAE: String, theirAE: String,
        timeouts: Timeouts, logger: Logger
    ) async {
        var parameters = AssociationParameters()
        parameters.callingAE = ourAE
        parameters.calledAE = theirAE
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: StorageCommitment.sopClass,
                transferSyntaxes: [
                    TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid,
                ])
        ]
        parameters.roleSelections = [RoleSelection(sopClass: StorageCommitment.sopClass, scu: false, scp: true)]
        do {
            let association = try await Association.open(
                host: address.host, port: address.port, parameters: parameters, timeouts: timeouts, tls: tls,
                logger: logger)
            do {
                let status = try await CommitmentExchange.deliver(report, on: association)
                logger.info(
                    "Storage Commitment report \(report.transactionUID.escapedForLog()) (\(report.committed.count) committed, \(report.failed.count) failed) sent to \(theirAE.escapedForLog())@\(address.host):\(address.port): \(status)"
                )
                try await association.release()
            } catch {
                await association.abort()
                throw error
            }
        } catch {
            logger.error(
                "Storage Commitment report \(report.transactionUID.escapedForLog()) to \(address.host):\(address.port) failed: \(error)"
            )
        }
    }
}
