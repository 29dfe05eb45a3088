import NIOCore
import NIOPosix

/// Runs async test code on an event loop of NIO's singleton group: where the `ferry`
/// executable runs every task (it installs that group as Swift concurrency's global executor),
/// so in-process tests see the product's scheduling. It also keeps association code off the
/// cooperative pool, which the suite's synchronous tests block while they wait for processes:
/// `withTaskExecutorPreference(EventLoopExecutor.shared) { ... }`.
public final class EventLoopExecutor: TaskExecutor, Sendable {
    public static let shared = EventLoopExecutor(MultiThreadedEventLoopGroup.singleton.next())
    private let loop: any EventLoop

    public init(_ loop: any EventLoop) { self.loop = loop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
