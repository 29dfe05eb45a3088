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
    /// `crashTest`: abort the process when the file's name is this (tests of crash isolation).
    public func prepare(
        _ file: OutgoingFile, route: Route, with sender: FileSender, crashTest: String? = nil
    ) async -> PreparedFile {
        guard route.isConversion else { return sender.prepare(file, route: route) }
        let work: @Sendable () -> PreparedFile = {
            if let name = crashTest, file.path.hasSuffix("/" + name) {
                var none = rlimit(rlim_cur: 0, rlim_max: 0)
                setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)  // no core file left by the test
                abort()
            }
            return sender.prepare(file, route: route)
        }
        do {
            return try await pool.run(work)
        } catch {
            return work()
        }
    }
}
