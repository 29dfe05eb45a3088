import Glibc
import Logging
import NIOCore
import Synchronization

/// The connections a receiver has accepted whose A-ASSOCIATE-RQ has not arrived yet, at most
/// `limit`. When full, the oldest one that has waited longer than the grace is closed to make
/// room for the next; while none has, accepting waits (the kernel's listen backlog holds new
/// connections in their order). So idle connections, however many and however fast they are
/// re-opened, neither exhaust descriptors nor starve a peer that sends its request at once:
/// that peer is accepted in its turn and keeps its place for the grace, far longer than its
/// request takes to arrive.
final class WaitingConnections: Sendable {
    private struct Entry {
        let id: Int
        let since: NIODeadline
        let channel: any Channel
    }

    private struct State {
        var next = 0
        var entries: [Entry] = []
        var closed = 0
        var lastWarning: NIODeadline?
        /// Tickets of connections closed to make room, until their sessions end.
        var evicted: Set<Int> = []
    }

    let limit: Int
    let grace: TimeAmount
    private let logger: Logger
    private let state = Mutex(State())

    init(limit: Int, grace: TimeAmount, logger: Logger) {
        self.limit = max(1, limit)
        self.grace = grace
        self.logger = logger
    }

    /// Takes `channel` in once there is room (closing the oldest waiting connection past its
    /// grace, or waiting for one to pass it); returns its ticket.
    func admit(_ channel: any Channel) async -> Int {
        while true {
            let now = NIODeadline.now()
            enum Step { case admitted(Int, closing: (any Channel)?), wait(TimeAmount) }
            let step = state.withLock { s -> Step in
                var closing: (any Channel)?
                if s.entries.count >= limit {
                    let oldest = s.entries[0]
                    let ready = oldest.since + grace
                    guard ready <= now else { return .wait(min(ready - now, .milliseconds(50))) }
                    s.entries.removeFirst()
                    s.evicted.insert(oldest.id)
                    s.closed += 1
                    closing = oldest.channel
                }
                s.next += 1
                s.entries.append(Entry(id: s.next, since: now, channel: channel))
                return .admitted(s.next, closing: closing)
            }
            switch step {
            case .admitted(let ticket, let closing):
                if let closing {
                    closing.close(promise: nil)
                    warnAboutClosing(now)
                }
                return ticket
            case .wait(let time):
                try? await Task.sleep(for: .nanoseconds(time.nanoseconds))
            }
        }
    }

    /// The connection's request arrived, or it ended: it waits no more. True when it was
    /// closed here to make room (its session ends quietly: the warning counts it).
    @discardableResult
    func leave(_ ticket: Int) -> Bool {
        state.withLock { s in
            s.entries.removeAll { $0.id == ticket }
            return s.evicted.remove(ticket) != nil
        }
    }

    /// One warning every ten seconds at most, with the number closed since the last.
    private func warnAboutClosing(_ now: NIODeadline) {
        let closed: Int? = state.withLock { s in
            if let last = s.lastWarning, now - last < .seconds(10) { return nil }
            s.lastWarning = now
            defer { s.closed = 0 }
            return s.closed
        }
        if let closed {
            logger.warning(
                "\(limit) connections wait for their A-ASSOCIATE-RQ: closed \(closed) that had waited longer than \(Double(grace.nanoseconds) / 1e9) s without a request"
            )
        }
    }
}

/// The descriptors a receiver may use: the soft RLIMIT_NOFILE raised to the hard one at
/// start, then the connection limits lowered to fit what remains after a reserve for files,
/// the index, logs and the event loops.
enum DescriptorBudget {
    static let reserve = 64

    /// `limits` fitted to the descriptors this process may open, and a note when lowered.
    static func fit(_ limits: ReceiverLimits) -> (ReceiverLimits, String?) {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return (limits, nil) }
        if rl.rlim_cur < rl.rlim_max {
            var raised = rl
            raised.rlim_cur = rl.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { rl = raised }
        }
        let available = Int(clamping: rl.rlim_cur) - reserve
        var fitted = limits
        // A waiting connection holds one descriptor, an association up to two (its socket and
        // the file it stores into).
        fitted.maxWaitingConnections = max(4, min(limits.maxWaitingConnections, available / 4))
        fitted.maxAssociations = max(1, min(limits.maxAssociations, (available - fitted.maxWaitingConnections) / 2))
        guard
            fitted.maxAssociations < limits.maxAssociations
                || fitted.maxWaitingConnections < limits.maxWaitingConnections
        else { return (fitted, nil) }
        return (
            fitted,
            "\(rl.rlim_cur) descriptors (ulimit -n): at most \(fitted.maxAssociations) associations and \(fitted.maxWaitingConnections) connections waiting for their request"
        )
    }
}
