import FerryNetwork
import Glibc
import NIOCore
import NIOPosix

/// Runs the CPU-heavy half of sends (decode, encode, verify) on the BlockingPool, never on
/// an event loop: a pipeline prepares the next few files of each association here while the
/// current one travels, so transcoding overlaps with network I/O and memory stays bounded by
/// the files prepared ahead.
public final class PreparationPool: Sendable {
    public static let shared = PreparationPool(pool: .shared)
    /// Files prepared ahead per association.
    public let depth: Int
    private let pool: BlockingPool

    init(pool: BlockingPool) {
        self.pool = pool
        depth = max(2, pool.threads)
    }

    /// The file prepared for its route: on the pool when it must be re-encoded, inline when it
    /// travels as it is (nothing to do).
    public func prepare(
        _ file: OutgoingFile, route: Route, with sender: FileSender, faults: FaultInjection = FaultInjection()
    ) async -> PreparedFile {
        guard route.isConversion else { return sender.prepare(file, route: route) }
        let work: @Sendable () -> PreparedFile = {
            faults.applyBeforeDecoding(file.path)
            return sender.prepare(file, route: route)
        }
        do {
            return try await pool.run(work)
        } catch {
            // The pool is shut down (the process is ending): never decode on the caller's thread.
            return PreparedFile(
                file: file, route: route,
                encoded: .failure(ServiceError(.preparation, "the preparation pool is closed")))
        }
    }
}
