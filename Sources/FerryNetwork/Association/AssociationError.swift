/// Why an association could not be opened, or ended before its work was done.
public enum AssociationError: Error, Sendable, CustomStringConvertible {
    case connectFailed(host: String, port: Int, reason: String)
    case tls(String)
    case rejected(AssociateRJ)
    case abortedByPeer(AbortPDU)
    case closedByPeer(during: String)
    case timeout(String)
    case protocolError(String)
    case noAcceptedContext
    case releasedByPeer
    /// The association was already ended (by a timeout, an abort or an error) and cannot be reused.
    case unusable

    public var description: String {
        switch self {
        case .connectFailed(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
        case .tls(let m): "TLS: \(m)"
        case .rejected(let rj): "association rejected: \(rj)"
        case .abortedByPeer(let a): "peer aborted the association (\(a))"
        case .closedByPeer(let during): "peer closed the connection during \(during)"
        case .timeout(let what): "timeout: \(what)"
        case .protocolError(let m): "protocol error: \(m)"
        case .noAcceptedContext: "the peer accepted none of the proposed presentation contexts"
        case .releasedByPeer: "peer requested release of the association"
        case .unusable: "association already ended"
        }
    }
}
