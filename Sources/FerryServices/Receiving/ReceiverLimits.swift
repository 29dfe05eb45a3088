import NIOCore
import Synchronization

/// What one receiver gives its peers at most, so that no peer can exhaust it: associations at
/// once (in all and per host: over either, A-ASSOCIATE-RJ transient, local limit exceeded, as
/// soon as the request arrives), connections waiting for their A-ASSOCIATE-RQ (see
/// `WaitingConnections`), bytes per instance (over them, the rest of the data set is read and
/// dropped and the store is answered 0xA700), and time per store (a peer that trickles a data
/// set under the DIMSE timeout is aborted when the whole store takes longer).
public struct ReceiverLimits: Sendable {
    public var maxAssociations = 128
    /// nil: the default, 64 or the total if lower.
    public var maxAssociationsPerHost: Int?
    public var perHost: Int { maxAssociationsPerHost ?? min(64, maxAssociations) }
    /// Connections accepted and waiting for their A-ASSOCIATE-RQ, at most.
    public var maxWaitingConnections = 256
    /// Under that limit's pressure, how long a waiting connection keeps its place.
    public var waitingGrace: TimeAmount = .milliseconds(250)
    public var maxInstanceBytes = 16 << 30
    /// From the C-STORE-RQ command to the data set's last fragment.
    public var storeTime: TimeAmount = .seconds(3600)
    public init() {}
}

/// The associations a receiver serves now, by host: taken when an A-ASSOCIATE-RQ is accepted,
/// given back when its session ends.
final class AssociationCount: Sendable {
    private let counts = Mutex<(total: Int, byHost: [String: Int])>((0, [:]))
    let limits: ReceiverLimits
    init(_ limits: ReceiverLimits) { self.limits = limits }

    /// Counts the association in, or says which limit it would pass (it is not counted then).
    func enter(_ host: String) -> String? {
        counts.withLock { c in
            if c.total >= limits.maxAssociations {
                return "\(c.total) associations at once (--max-associations \(limits.maxAssociations))"
            }
            let fromHost = c.byHost[host, default: 0]
            if fromHost >= limits.perHost {
                return "\(fromHost) associations from \(host) at once (--max-associations-per-host \(limits.perHost))"
            }
            c.total += 1
            c.byHost[host] = fromHost + 1
            return nil
        }
    }

    func leave(_ host: String) {
        counts.withLock { c in
            c.total -= 1
            let left = c.byHost[host, default: 1] - 1
            c.byHost[host] = left > 0 ? left : nil
        }
    }
}
