import FerryDICOM

/// FerryNetwork's one error: why an association could not be opened, or ended before its work
/// was done. The code says what kind of failure it is, the message what happened in plain words
/// (`plain(_:peer:_:)` says NIO's, NIOSSL's and the system's), `peer` with whom, and
/// `underlying` keeps the error that caused it (a malformed PDU's `PDUError`, NIO's or NIOSSL's
/// own error, a data set source's read failure) with its type, for debugging.
public struct AssociationError: Error, Sendable, CustomStringConvertible {
    public struct Code: ErrorCode {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let connectFailed = Code(rawValue: "connect-failed")
        public static let tls = Code(rawValue: "tls")
        /// A password the association needs (user identity, TLS key) cannot be read.
        public static let secretUnavailable = Code(rawValue: "secret-unavailable")
        /// A-ASSOCIATE-RJ; `rejection` holds it.
        public static let rejected = Code(rawValue: "rejected")
        /// A-ABORT from the peer; `abort` holds it.
        public static let abortedByPeer = Code(rawValue: "aborted-by-peer")
        public static let closedByPeer = Code(rawValue: "closed-by-peer")
        public static let timeout = Code(rawValue: "timeout")
        /// The peer broke PS3.7 or PS3.8 (or we could not follow them): answered with A-ABORT.
        public static let protocolError = Code(rawValue: "protocol-error")
        public static let noAcceptedContext = Code(rawValue: "no-accepted-context")
        public static let releasedByPeer = Code(rawValue: "released-by-peer")
        /// The association was already ended (by a timeout, an abort or an error).
        public static let unusable = Code(rawValue: "unusable")
    }

    public var code: Code
    public var message: String
    /// host:port of the peer, where it is known.
    public var peer: String?
    public var rejection: AssociateRJ?
    public var abort: AbortPDU?
    public var underlying: (any Error)?

    public init(
        _ code: Code, _ message: String, peer: String? = nil, rejection: AssociateRJ? = nil, abort: AbortPDU? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.peer = peer
        self.rejection = rejection
        self.abort = abort
        self.underlying = underlying
    }

    public var description: String { message }

    public static func tls(_ message: String, underlying: (any Error)? = nil) -> Self {
        Self(.tls, "TLS: \(message)", underlying: underlying)
    }
    public static func rejected(_ rj: AssociateRJ) -> Self {
        Self(.rejected, "association rejected: \(rj)", rejection: rj)
    }
    public static func abortedByPeer(_ a: AbortPDU) -> Self {
        Self(.abortedByPeer, "peer aborted the association (\(a))", abort: a)
    }
    public static func closedByPeer(during: String, peer: String? = nil, underlying: (any Error)? = nil) -> Self {
        Self(
            .closedByPeer, "peer \(peer.map { "\($0) " } ?? "")closed the connection during \(during)", peer: peer,
            underlying: underlying)
    }
    public static func timeout(_ what: String) -> Self { Self(.timeout, "timeout: \(what)") }
    public static func protocolError(_ message: String, underlying: (any Error)? = nil) -> Self {
        Self(.protocolError, "protocol error: \(message)", underlying: underlying)
    }
    public static let noAcceptedContext = Self(
        .noAcceptedContext, "the peer accepted none of the proposed presentation contexts")
    public static let releasedByPeer = Self(.releasedByPeer, "peer requested release of the association")
    public static let unusable = Self(.unusable, "association already ended")
}
