import Foundation
import TestSupport
import Testing

/// TLS against DCMTK `storescp +tls`, with certificates made by openssl for the test.
@Suite(.serialized, .scratch)
struct TLSTests {
    func tlsPeer(_ dir: String) throws -> PeerProcess {
        try PeerProcess.dcmtkStorescp(
            outputDirectory: dir, ["+tls", dir + "/server.key", dir + "/server.crt", "+cf", dir + "/ca.crt"])
    }

    @Test func verifiedPeerWorksForEchoAndStore() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let tls = ["+tls", dir + "/client.key", dir + "/client.crt", "+cf", dir + "/ca.crt"]
        let echo = try FerryCLI.run(["echo"] + tls + ["127.0.0.1", String(peer.port)])
        #expect(echo.status == 0, "\(echo.stderr)")
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        let store = try FerryCLI.run(["storescu"] + tls + ["127.0.0.1", String(peer.port)] + files)
        #expect(store.status == 0, "\(store.stderr)")
        #expect(Interop.received(dir).count == files.count)
        // A CA directory works like a CA file.
        let viaDir = try FerryCLI.run([
            "echo", "+tls", dir + "/client.key", dir + "/client.crt", "+cd", dir + "/cadir", "127.0.0.1",
            String(peer.port),
        ])
        #expect(viaDir.status == 0, "\(viaDir.stderr)")
    }

    /// +cs restricts the cipher suites: one the peer supports works (OpenSSL or IANA name), an
    /// unknown name is a clear error before connecting (swift-nio-ssl would trap on it).
    @Test func cipherSuiteList() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let tls = ["+tls", dir + "/client.key", dir + "/client.crt", "+cf", dir + "/ca.crt"]
        let ok = try FerryCLI.run(
            ["echo"] + tls + ["+cs", "ECDHE-RSA-AES128-GCM-SHA256", "127.0.0.1", String(peer.port)])
        #expect(ok.status == 0, "\(ok.stderr)")
        let iana = try FerryCLI.run(
            ["echo"] + tls + ["+cs", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "127.0.0.1", String(peer.port)])
        #expect(iana.status == 0, "IANA names as DCMTK's +cc lists them: \(iana.stderr)")
        let bogus = try FerryCLI.run(["echo"] + tls + ["+cs", "NO-SUCH-CIPHER", "127.0.0.1", String(peer.port)])
        #expect(bogus.status == 1)
        #expect(
            bogus.stderr.contains("unknown or unsupported cipher suite \"NO-SUCH-CIPHER\""),
            "a clear error, not a crash: \(bogus.stderr)")
    }

    @Test func wrongCAFailsClosed() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let out = try FerryCLI.run([
            "echo", "+tls", dir + "/client.key", dir + "/client.crt", "+cf", dir + "/other.crt", "127.0.0.1",
            String(peer.port),
        ])
        #expect(out.status == 1)
        #expect(
            out.stderr.contains("TLS with 127.0.0.1:\(peer.port): certificate not trusted"), "\(out.stderr)")
        // Without verification (-ic) the same client connects: the failure above was the CA check.
        let ignoring = try FerryCLI.run([
            "echo", "-ic", "+tls", dir + "/client.key", dir + "/client.crt", "127.0.0.1", String(peer.port),
        ])
        #expect(ignoring.status == 0, "\(ignoring.stderr)")
    }

    /// The client checks that the certificate names the destination (RFC 6125): a certificate
    /// for elsewhere.example.org fails by IP and by name; --tls-no-host-check verifies the chain
    /// alone, as DCMTK does. A certificate naming 127.0.0.1 and localhost passes both ways.
    @Test func theCertificateMustNameTheDestination() throws {
        let dir = try Certificates.make()
        let elsewhere = try PeerProcess.dcmtkStorescp(
            outputDirectory: dir, ["+tls", dir + "/elsewhere.key", dir + "/elsewhere.crt", "+cf", dir + "/ca.crt"])
        defer { elsewhere.stop() }
        let tls = ["+tls", dir + "/client.key", dir + "/client.crt", "+cf", dir + "/ca.crt"]
        for host in ["127.0.0.1", "localhost"] {
            let out = try FerryCLI.run(["echo"] + tls + [host, String(elsewhere.port)])
            #expect(out.status == 1, "\(host): \(out.stderr)")
            #expect(
                out.stderr.contains("TLS with \(host):\(elsewhere.port): the certificate does not name \(host)"),
                "\(out.stderr)")
        }
        let chainOnly = try FerryCLI.run(["echo"] + tls + ["--tls-no-host-check", "127.0.0.1", String(elsewhere.port)])
        #expect(chainOnly.status == 0, "\(chainOnly.stderr)")
        let named = try tlsPeer(dir)
        defer { named.stop() }
        for host in ["127.0.0.1", "localhost"] {
            let out = try FerryCLI.run(["echo"] + tls + [host, String(named.port)])
            #expect(out.status == 0, "\(host): \(out.stderr)")
        }
    }

    /// Verification needs trust anchors given explicitly: without +cf/+cd the client refuses to
    /// start instead of trusting every public CA; --tls-system-ca is the explicit choice.
    @Test func noTrustAnchorsIsAConfigurationError() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let out = try FerryCLI.run([
            "echo", "+tls", dir + "/client.key", dir + "/client.crt", "127.0.0.1", String(peer.port),
        ])
        #expect(out.status == 1)
        #expect(out.stderr.contains("no trust anchors"), "\(out.stderr)")
        #expect(!peer.log().contains("Association Received"), "refused before connecting")
        let system = try FerryCLI.run(
            [
                "echo", "+tls", dir + "/client.key", dir + "/client.crt", "--tls-system-ca", "127.0.0.1",
                String(peer.port),
            ])
        #expect(
            system.status == 1 && system.stderr.contains("certificate not trusted"),
            "the test CA is not the system's: \(system.stderr)")
    }

    /// Pinning: the peer's certificate must be one of the pinned ones, after the chain and name.
    @Test func pinnedCertificates() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let tls = ["+tls", dir + "/client.key", dir + "/client.crt", "+cf", dir + "/ca.crt"]
        let pinned = try FerryCLI.run(
            ["echo"] + tls + ["--tls-pin", dir + "/server.crt", "127.0.0.1", String(peer.port)])
        #expect(pinned.status == 0, "\(pinned.stderr)")
        let other = try FerryCLI.run(
            ["echo"] + tls + ["--tls-pin", dir + "/elsewhere.crt", "127.0.0.1", String(peer.port)])
        #expect(other.status == 1 && other.stderr.contains("not one of the pinned certificates"), "\(other.stderr)")
    }

    @Test func untrustedClientCertificateIsRefusedByThePeer() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let out = try FerryCLI.run([
            "echo", "+tls", dir + "/other.key", dir + "/other.crt", "+cf", dir + "/ca.crt", "127.0.0.1",
            String(peer.port),
        ])
        #expect(out.status == 1)
        #expect(out.stderr.contains("TLS"), "\(out.stderr)")
    }

    /// An encrypted key opens with the password from the environment, and the password
    /// never shows in debug logs.
    @Test func encryptedKeyPasswordFromEnvironmentStaysOutOfLogs() throws {
        let dir = try Certificates.make()
        let peer = try tlsPeer(dir)
        defer { peer.stop() }
        let out = try FerryCLI.run(
            [
                "echo", "-d", "+tls", dir + "/client-encrypted.key", dir + "/client.crt", "--passwd-env",
                "FERRY_TEST_KEY_PASSWORD",
                "+cf", dir + "/ca.crt", "127.0.0.1", String(peer.port),
            ], environment: ["FERRY_TEST_KEY_PASSWORD": Certificates.clientKeyPassword])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(
            !out.stderr.contains(Certificates.clientKeyPassword) && !out.stdout.contains(Certificates.clientKeyPassword)
        )
        let wrong = try FerryCLI.run(
            [
                "echo", "+tls", dir + "/client-encrypted.key", dir + "/client.crt", "--passwd-env",
                "FERRY_TEST_KEY_PASSWORD",
                "+cf", dir + "/ca.crt", "127.0.0.1", String(peer.port),
            ], environment: ["FERRY_TEST_KEY_PASSWORD": "wrong-password"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("cannot read private key file"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("wrong-password"))
    }
}
