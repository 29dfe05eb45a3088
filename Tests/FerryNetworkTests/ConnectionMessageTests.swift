import FerryDICOM
import Foundation
import Glibc
import NIOCore
import TestSupport
import Testing

@testable import FerryNetwork

/// What a person reads when a connection fails: plain words naming the peer (host:port), the
/// library's own error kept as `underlying` and out of the message. Every peer is on loopback.
@Suite(.serialized, .scratch)
struct ConnectionMessageTests {
    static var echo: AssociationParameters {
        var p = AssociationParameters()
        p.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: UIDRegistry.verificationSOPClass,
                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
        ]
        return p
    }

    /// The error `Association.open` ends with.
    static func failure(
        host: String = "127.0.0.1", port: Int, timeouts: Timeouts = Timeouts(), tls: TLSClient? = nil
    ) async -> AssociationError? {
        do {
            let association = try await Association.open(
                host: host, port: port, parameters: echo, timeouts: timeouts, tls: tls)
            await association.abort()
            return nil
        } catch {
            return error as? AssociationError
        }
    }

    /// No library internals: type names, errno numbers, BoringSSL codes.
    static func isPlain(_ message: String) -> Bool {
        !["Error", "errno", "SingleConnectionFailure", "(error set)", "OPENSSL", "_"].contains {
            message.contains($0)
        }
    }

    @Test func nothingListens() async throws {
        let port = freePort()
        let e = try #require(await Self.failure(port: port))
        #expect(e.message == "cannot connect to 127.0.0.1:\(port): connection refused")
        #expect(e.code == .connectFailed && e.peer == "127.0.0.1:\(port)" && e.underlying != nil)
    }

    /// `.invalid` never resolves (RFC 6761); a resolver that cannot be reached says so after
    /// "host not found".
    @Test func unresolvableHost() async throws {
        let e = try #require(await Self.failure(host: "no-such-host.invalid", port: 104))
        #expect(e.message.hasPrefix("cannot connect to no-such-host.invalid:104: host not found"), "\(e.message)")
        #expect(e.code == .connectFailed && e.underlying != nil && Self.isPlain(e.message))
    }

    /// A connect that is never answered, offline: a loopback listener that never accepts, whose
    /// accept queue is full (backlog 1, taken by connections made first). Linux then drops the
    /// next SYNs, so our connect waits for its timeout, as with a silent firewall. (A routable
    /// but silent address would send traffic off the machine.)
    @Test func connectTimesOut() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        var timeouts = Timeouts()
        timeouts.connect = .seconds(1)
        let e = try #require(await Self.failure(port: listener.port, timeouts: timeouts))
        #expect(e.message == "cannot connect to 127.0.0.1:\(listener.port): timed out after 1 s")
        #expect(e.code == .connectFailed)
    }

    /// A peer that resets every connection it takes: the association negotiation ends with the
    /// peer named.
    @Test func peerResetsTheConnection() async throws {
        let peer = try PeerProcess.script(
            """
            import socket, struct, sys
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(sys.argv[1])))
            s.listen(8)
            while True:
                c, _ = s.accept()
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            """, name: "reset-peer")
        defer { peer.stop() }
        let e = try #require(await Self.failure(port: peer.port))
        // Reset on the read (most often), on the write, or while the connection is still being
        // set up: each way in words, the peer named.
        let during = "peer 127.0.0.1:\(peer.port) closed the connection during association negotiation"
        let setUp = "cannot connect to 127.0.0.1:\(peer.port): connection reset by peer"
        #expect(
            (e.message.hasPrefix(during) && e.code == .closedByPeer)
                || (e.message == setUp && e.code == .connectFailed),
            "\(e.message)")
        #expect(Self.isPlain(e.message), "\(e.message)")
    }

    /// DCMTK `storescp +tls` with a certificate signed by the test CA; we trust another CA.
    @Test func peerCertificateNotTrusted() async throws {
        let dir = try Certificates.make()
        let peer = try PeerProcess.dcmtkStorescp(
            outputDirectory: dir, ["+tls", dir + "/server.key", dir + "/server.crt", "+cf", dir + "/ca.crt"])
        defer { peer.stop() }
        var options = TLSOptions()
        options.certificateFile = dir + "/client.crt"
        options.privateKeyFile = dir + "/client.key"
        options.trustedCertificateFiles = [dir + "/other.crt"]
        let e = try #require(await Self.failure(port: peer.port, tls: try options.client()))
        #expect(
            e.message
                == "TLS with 127.0.0.1:\(peer.port): certificate not trusted (not signed by a CA we trust, or expired)")
        #expect(e.code == .tls && e.peer == "127.0.0.1:\(peer.port)" && e.underlying != nil)
    }

    /// A certificate signed by a trusted CA, but for another host name.
    @Test func peerCertificateForAnotherHost() async throws {
        let dir = try Certificates.make()
        let peer = try PeerProcess.dcmtkStorescp(
            outputDirectory: dir, ["+tls", dir + "/elsewhere.key", dir + "/elsewhere.crt", "+cf", dir + "/ca.crt"])
        defer { peer.stop() }
        var options = TLSOptions()
        options.certificateFile = dir + "/client.crt"
        options.privateKeyFile = dir + "/client.key"
        options.trustedCertificateFiles = [dir + "/ca.crt"]
        let e = try #require(await Self.failure(port: peer.port, tls: try options.client()))
        #expect(e.message == "TLS with 127.0.0.1:\(peer.port): the certificate does not name 127.0.0.1")
        #expect(e.code == .tls)
    }

    /// The cases a loopback peer cannot make (no route, an unreachable host), given to the
    /// mapping as the system reports them.
    @Test(arguments: [
        (ENETUNREACH, "cannot connect to pacs:104: network unreachable"),
        (EHOSTUNREACH, "cannot connect to pacs:104: host unreachable"),
        (ECONNRESET, "cannot connect to pacs:104: connection reset by peer"),
        (ECONNREFUSED, "cannot connect to pacs:104: connection refused"),
    ])
    func systemErrorsWhileConnecting(code: Int32, expected: String) {
        let e = AssociationError.plain(IOError(errnoCode: code, reason: "connect"), peer: "pacs:104", .connecting)
        #expect(e.message == expected && e.code == .connectFailed && e.underlying is IOError)
    }

    @Test func mappedOnce() {
        let timeout = AssociationError.plain(
            ChannelError.connectTimeout(.milliseconds(1500)), peer: "pacs:104", .connecting)
        #expect(timeout.message == "cannot connect to pacs:104: timed out after 1.5 s")
        let reset = AssociationError.plain(
            IOError(errnoCode: ECONNRESET, reason: "read"), peer: "pacs:104", .during("reading"))
        #expect(reset.message == "peer pacs:104 closed the connection during reading (connection reset by peer)")
        #expect(reset.code == .closedByPeer && reset.peer == "pacs:104")
        // Ours already: kept, with the peer added (and named in a TLS message).
        let pinned = AssociationError.plain(
            AssociationError.tls("the peer's certificate is not one of the pinned certificates"), peer: "pacs:2762",
            .during("association negotiation"))
        #expect(pinned.message == "TLS with pacs:2762: the peer's certificate is not one of the pinned certificates")
        let timedOut = AssociationError.plain(AssociationError.timeout("waiting"), peer: "pacs:104", .during("x"))
        #expect(timedOut.message == "timeout: waiting" && timedOut.peer == "pacs:104")
    }
}

/// A loopback listener that never accepts, its accept queue filled (see `connectTimesOut`).
final class SilentListener {
    let port = freePort()
    private var sockets: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        sockets.append(listener)
        guard listener >= 0, withLoopbackAddress(port, { bind(listener, $0, $1) }) == 0, listen(listener, 1) == 0 else {
            close()
            throw PeerError(message: "cannot listen on 127.0.0.1:\(port)")
        }
        // Non-blocking connects: the first two complete into the queue (Linux keeps backlog + 1),
        // the others wait on their dropped SYNs; on loopback all this is over within the pause.
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            sockets.append(fd)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = withLoopbackAddress(port) { connect(fd, $0, $1) }
        }
        usleep(100_000)
    }

    func close() {
        for fd in sockets where fd >= 0 { _ = Glibc.close(fd) }
        sockets = []
    }
}
