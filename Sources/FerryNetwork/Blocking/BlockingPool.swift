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

    /// Runs `work` on a pool thread; the calling task resumes on `eventLoop` (its channel's),
    /// so its next read or write starts there instead of on whichever loop comes next: one
    /// thread wake-up fewer per call, which a receiver pays once per stored instance.
    public func run<T: Sendable>(
        resumingOn eventLoop: any EventLoop, _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        try await pool.runIfActive(eventLoop: eventLoop, work).get()
    }
}
