import FerryDICOM
import Glibc
import NIOCore
import NIOPosix
import NIOSSL

extension AssociationError {
    /// When an error came: while connecting (name lookup, TCP, the channel's set-up), or during
    /// an exchange on the open connection ("association negotiation", "reading").
    enum Moment {
        case connecting
        case during(String)
    }

    /// The one place where what NIO, NIOSSL and the system report becomes words a person reads,
    /// naming the peer: "cannot connect to pacs:104: connection refused", "... timed out after
    /// 30 s", "... host not found", "TLS with pacs:2762: certificate not trusted (...)". The
    /// error itself stays `underlying` for debugging; its type names, errno numbers and
    /// BoringSSL codes stay out of the message.
    static func plain(_ error: any Error, peer: String?, _ moment: Moment) -> AssociationError {
        let who = peer ?? "the peer"
        let host = peer.map { p in p.lastIndex(of: ":").map { String(p[..<$0]) } ?? p } ?? "the host"

        if var e = error as? AssociationError {
            // Ours already (a timeout, an abort, a pinned certificate refused): the peer is
            // added, and named in a TLS message.
            if e.peer == nil, let peer {
                e.peer = peer
                if e.code == .tls, e.message.hasPrefix("TLS: ") {
                    e.message = "TLS with \(peer): \(e.message.dropFirst(5))"
                }
            }
            return e
        }
        var mapped: AssociationError
        if let e = error as? PDUError {
            mapped = .protocolError(e.message, underlying: e)
        } else if let e = error as? DICOMError {
            mapped = .protocolError("reading the data set failed: \(e)", underlying: e)
        } else if let reason = tls(error, host: host) {
            mapped = AssociationError(.tls, "TLS with \(who): \(reason)", underlying: error)
        } else {
            switch moment {
            case .connecting:
                let reason = connecting(error) ?? "\(error)"
                mapped = AssociationError(.connectFailed, "cannot connect to \(who): \(reason)", underlying: error)
            case .during(let during):
                if let e = error as? ChannelError, e == .eof || e == .ioOnClosedChannel || e == .alreadyClosed {
                    mapped = .closedByPeer(during: during, peer: peer, underlying: e)
                } else if let e = error as? IOError {
                    let reason = words(errno: e.errnoCode)
                    mapped = .closedByPeer(during: "\(during) (\(reason))", peer: peer, underlying: e)
                } else {
                    mapped = .protocolError("\(error)", underlying: error)
                }
            }
        }
        mapped.peer = peer
        return mapped
    }

    private static func seconds(_ t: TimeAmount) -> String {
        let s = Double(t.nanoseconds) / 1e9
        return s == s.rounded() ? "\(Int64(s)) s" : "\(s) s"
    }

    /// The system's errors on a socket.
    private static func words(errno code: CInt) -> String {
        switch code {
        case ECONNREFUSED: return "connection refused"
        case ETIMEDOUT: return "timed out (the host did not answer)"
        case ENETUNREACH: return "network unreachable"
        case EHOSTUNREACH: return "host unreachable"
        case ECONNRESET: return "connection reset by peer"
        case EPIPE: return "connection closed by peer"
        case ECONNABORTED: return "connection aborted"
        case EADDRNOTAVAIL: return "address not available"
        case EACCES, EPERM: return "not permitted (a firewall rule?)"
        default: return String(cString: strerror(code)).lowercased()
        }
    }

    /// A name lookup that found no address.
    private static func words(lookup: any Error) -> String {
        guard let e = lookup as? SocketAddressError.UnknownHost else { return "host not found" }
        switch Int32(e.errorCode) {
        case EAI_NONAME, EAI_FAIL: return "host not found"
        case EAI_AGAIN: return "host not found (no name server answered; try again later)"
        default: return "host not found (\(e.errorDescription.lowercased()))"
        }
    }

    /// Why connecting failed, or nil when `e` is no connection error.
    private static func connecting(_ e: any Error) -> String? {
        switch e {
        case let e as NIOConnectionError:
            // One failure per address tried (localhost: ::1 and 127.0.0.1), usually alike;
            // a lookup's error only when no address was found to try.
            var reasons: [String] = []
            for failure in e.connectionErrors {
                let reason = connecting(failure.error) ?? "\(failure.error)"
                if !reasons.contains(reason) { reasons.append(reason) }
            }
            if !reasons.isEmpty { return reasons.joined(separator: "; ") }
            return (e.dnsAError ?? e.dnsAAAAError).map { words(lookup: $0) } ?? "host not found (no address)"
        case let e as ChannelError:
            if case .connectTimeout(let t) = e { return "timed out after \(seconds(t))" }
            return nil
        case let e as SocketAddressError.UnknownHost: return words(lookup: e)
        case let e as IOError: return words(errno: e.errnoCode)
        default: return nil
        }
    }

    /// BoringSSL's reason ("CERTIFICATE_VERIFY_FAILED"), in words.
    private static func words(handshake e: BoringSSLError) -> String {
        let stack: NIOBoringSSLErrorStack
        switch e {
        case .sslError(let s), .unknownError(let s), .invalidSNIName(let s), .failedToSetALPN(let s): stack = s
        default: return "the handshake failed (the connection ended)"
        }
        // "Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:REASON at file:line"
        let reasons = stack.map { entry -> String in
            let text = entry.description
            if text.contains("EOF during") { return "EOF" }
            guard let start = text.range(of: "error:") else { return text }
            let fields = text[start.upperBound...].split(separator: ":", maxSplits: 3)
            let reason = fields.count == 4 ? fields[3] : Substring(text)
            return String(reason.split(separator: " ").first ?? reason)
        }
        func any(_ names: String...) -> Bool { reasons.contains { names.contains($0) } }
        if any("CERTIFICATE_VERIFY_FAILED") {
            return "certificate not trusted (not signed by a CA we trust, or expired)"
        }
        if any("TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_UNKNOWN") {
            return "the peer does not trust our certificate"
        }
        if any("SSLV3_ALERT_CERTIFICATE_EXPIRED") { return "the peer says our certificate has expired" }
        if any("TLSV1_ALERT_CERTIFICATE_REQUIRED") { return "the peer wants a certificate from us" }
        if any("PEER_DID_NOT_RETURN_A_CERTIFICATE") { return "the peer sent no certificate" }
        if any("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "PACKET_LENGTH_TOO_LONG") {
            return "the peer does not speak TLS on this port"
        }
        if any("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION") {
            return "no TLS version in common with the peer"
        }
        if any("NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_COMMON_SIGNATURE_ALGORITHMS") {
            return "no cipher suite in common with the peer"
        }
        if any("SSLV3_ALERT_HANDSHAKE_FAILURE") {
            return "the peer refused the handshake (no cipher suite in common, or it wants our certificate)"
        }
        if any("EOF") { return "the peer closed the connection during the handshake (does it speak TLS?)" }
        let named = reasons.first.map { $0.lowercased().split(separator: "_").joined(separator: " ") }
        return "the handshake failed" + (named.map { " (\($0))" } ?? "")
    }

    /// Why TLS failed, or nil when `e` is no TLS error.
    private static func tls(_ e: any Error, host: String) -> String? {
        switch e {
        case let e as NIOSSLError:
            switch e {
            case .handshakeFailed(let b): return words(handshake: b)
            case .noCertificateToValidate: return "the peer sent no certificate"
            case .unableToValidateCertificate: return "the peer's certificate could not be checked"
            case .uncleanShutdown: return "the peer closed the connection without ending TLS"
            default: return "\(e)"
            }
        case let e as BoringSSLError: return words(handshake: e)
        case let e as NIOSSLExtraError:
            if e == .failedToValidateHostname { return "the certificate does not name \(host)" }
            if e == .serverHostnameImpossibleToMatch || e == .invalidSNIHostname {
                return "\(host) cannot be matched against a certificate"
            }
            return "\(e)"
        case is NIOSSLCloseTimedOutError: return "the peer did not end TLS in time"
        case let e as NIOTLSUnwrappingError: return "\(e)"
        default: return nil
        }
    }
}
