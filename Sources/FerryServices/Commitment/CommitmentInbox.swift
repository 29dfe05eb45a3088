import Synchronization

/// Storage commitment reports that have arrived, by Transaction UID, for the requestor that
/// waits for them: reports come on the requesting association or on one the SCP opens to
/// Ferry's listener, in any order.
public final class CommitmentInbox: Sendable {
    private let reports = Mutex<[String: CommitmentReport]>([:])
    public init() {}

    public func deliver(_ report: CommitmentReport) {
        reports.withLock { $0[report.transactionUID] = report }
    }

    /// The report of `transactionUID`, taken once.
    public func take(_ transactionUID: String) -> CommitmentReport? {
        reports.withLock { $0.removeValue(forKey: transactionUID) }
    }
}
