import Glibc
import Synchronization

/// A rate cap shared by any number of associations (`transfer.max_rate`): bytes are admitted
/// at `bytesPerSecond` on average, paced in small steps (each socket buffer waits for its turn),
/// so the link sees a steady flow instead of bursts at full speed and pauses.
public final class Pacer: Sendable {
    public let bytesPerSecond: Double
    /// When the next byte may go (seconds on the monotonic clock), kept no further back than
    /// `burst` worth of idle time: a pause does not earn a burst later.
    private let next = Mutex<Double>(0)
    private static let burst = 0.05

    public init(bytesPerSecond: Double) {
        self.bytesPerSecond = max(1, bytesPerSecond)
    }

    /// Waits until `bytes` may be written.
    public func admit(_ bytes: Int) async throws {
        let now = Self.clock()
        let start = next.withLock { next in
            let start = max(next, now - Self.burst)
            next = start + Double(bytes) / bytesPerSecond
            return start
        }
        if start > now { try await Task.sleep(for: .seconds(start - now)) }
    }

    static func clock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
