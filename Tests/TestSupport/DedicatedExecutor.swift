import Dispatch

/// Runs async client code on a serial queue of its own instead of Swift concurrency's
/// cooperative pool. The suite's synchronous tests block that pool (one thread per core) while
/// they wait for processes, and an association starved of it for long enough is dropped by its
/// peer's timeouts: `withTaskExecutorPreference(DedicatedExecutor.shared) { ... }`.
public final class DedicatedExecutor: TaskExecutor, @unchecked Sendable {
    public static let shared = DedicatedExecutor(label: "ferry-tests.client")
    private let queue: DispatchQueue

    public init(label: String) { queue = DispatchQueue(label: label) }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
