import Synchronization

/// dcmqrscp's --no-parallel-store: at most one association at a time may store into each
/// called AE title's area; a second one gets its storage contexts refused.
public final class StorageClaims: Sendable {
    private let held = Mutex<Set<String>>([])

    public init() {}

    /// True when `calledAE` was free and is now held by the caller.
    func claim(_ calledAE: String) -> Bool { held.withLock { $0.insert(calledAE).inserted } }

    func release(_ calledAE: String) { _ = held.withLock { $0.remove(calledAE) } }
}
