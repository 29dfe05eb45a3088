import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// A job file's destination with TLS (client certificate whose key is encrypted, CA file,
/// verification) and user identity, against DCMTK `storescp +tls`: the files arrive, the
/// receiver sees the user, and neither secret (both read from environment variables) appears
/// in the output, the manifest, the report or the status.
@Suite(.serialized, .scratch)
struct SecureJobTests {
    @Test func tlsAndUserIdentityFromAJobFile() throws {
        let certs = try Certificates.make()
        let rx = try Corpus.temporaryDirectory("rx-tls")
        let receiver = try PeerProcess.dcmtkStorescp(
            outputDirectory: rx, ["-d", "+tls", certs + "/server.key", certs + "/server.crt", "+cf", certs + "/ca.crt"])
        defer { receiver.stop() }
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        let src = try Corpus.temporaryDirectory("tls-src")
        for (i, f) in files.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm") }
        let dir = try Corpus.temporaryDirectory("tls-job")
        let manifest = dir + "/secure.sqlite"
        let job = """
            name: secure
            source:
              paths: [\(src)]
            destination:
              host: 127.0.0.1
              port: \(receiver.port)
              called_ae: ANY-SCP
              tls: {certificate: \(certs)/client.crt, key: \(certs)/client-encrypted.key, key_password_env: TEST_KEY_PASSWORD, ca_files: [\(certs)/ca.crt], verify: require}
              user: {username: migration-user, password_env: TEST_PACS_PASSWORD}
            manifest: \(manifest)
            """
        try job.write(toFile: dir + "/secure.yaml", atomically: false, encoding: .utf8)
        let pacsPassword = "pacs-pa55-XYZ"
        let environment = ["TEST_KEY_PASSWORD": Certificates.clientKeyPassword, "TEST_PACS_PASSWORD": pacsPassword]

        let run = try FerryCLI.run(["run", dir + "/secure.yaml", "-v"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Interop.compare(sent: Pipeline.instances([src]), received: Interop.received(rx)) == [])
        #expect(
            receiver.log().contains("migration-user"),
            "the receiver saw the user identity: \(receiver.log().suffix(1500))")

        // Without the key password the key cannot be read: a clear error, files stay planned.
        let noKey = try FerryCLI.run(
            ["run", dir + "/secure.yaml", "--manifest", dir + "/other.sqlite"],
            environment: ["TEST_PACS_PASSWORD": pacsPassword])
        #expect(noKey.status != 0 && noKey.stderr.contains("TEST_KEY_PASSWORD"), "\(noKey.status) \(noKey.stderr)")

        let status = try FerryCLI.run(["status", manifest])
        let report = try FerryCLI.run(["report", manifest, "--format", "json"])
        #expect(status.status == 0 && report.status == 0)
        var stored = Data()
        for suffix in ["", "-wal", "-shm"] {
            stored += FileManager.default.contents(atPath: manifest + suffix) ?? Data()
        }
        let texts = [
            run.stdout, run.stderr, noKey.stdout, noKey.stderr, status.stdout, report.stdout,
            String(decoding: stored, as: UTF8.self),
        ]
        for secret in [pacsPassword, Certificates.clientKeyPassword] {
            #expect(!texts.contains { $0.contains(secret) }, "a secret leaked")
        }
    }
}
