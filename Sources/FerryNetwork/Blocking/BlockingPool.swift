import NIOCore
import NIOPosix

/// The one place where blocking work runs: file reads and writes of the data path, fsync,
/// codec work, header scans. A bounded pool of one thread per core; event loops never block,
/// so one slow disk or decode does not stall the other associations of the process. (The
/// manifest's writes go through GRDB's own writer queue; an exec hook's wait for its
/// program, which has no bound, has a thread of its own.)
public final class BlockingPool: Sendable {
    public static let shared = BlockingPool(threads: System.coreCount)
    public let threads: Int
    private let pool: NIOThreadPool

    init(threads: Int) {
        self.threads = max(1, threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// Runs `work` on a pool thread and returns its result.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(work)
    }

    /// Starts `work` on a pool thread; its future completes on `eventLoop` (the channel's of
    /// the task that waits for it), so that task resumes there instead of on whichever loop
    /// comes next: one thread wake-up fewer. The caller may go on (read the next request)
    /// before it waits.
    public func start<T: Sendable>(
        completingOn eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> T
    ) -> EventLoopFuture<T> {
        pool.runIfActive(eventLoop: eventLoop, work)
    }
}
