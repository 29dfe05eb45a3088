import FerryNetwork
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
    public func prepare(_ file: OutgoingFile, route: Route, with sender: FileSender) async -> PreparedFile {
        guard route.isConversion else { return sender.prepare(file, route: route) }
        do {
            return try await pool.run { sender.prepare(file, route: route) }
        } catch {
            return sender.prepare(file, route: route)
        }
    }
}
