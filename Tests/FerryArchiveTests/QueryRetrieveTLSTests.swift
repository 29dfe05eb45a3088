import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry qrscp +tls` (issue 15): its key, certificate and trusted CAs secure the associations
/// it accepts and the C-MOVE sub-associations it opens. DCMTK findscu queries it over TLS;
/// a move reaches a DCMTK storescp that requires TLS with a client certificate from the same
/// CA, and fails (A702) into one that trusts another CA.
@Suite(.scratch)
struct QueryRetrieveTLSTests {
    @Test func queriesAndSubAssociationsGoOverTLS() throws {
        let certs = try Certificates.make()
        let files = try Interop.uncompressedFiles("tiny")
        let legacy = try Corpus.temporaryDirectory("tls-legacy")
        for (i, f) in files.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: legacy + "/\(i).dcm") }
        let trusting = try Corpus.temporaryDirectory("tls-destination")
        let destination = try PeerProcess.dcmtkStorescp(
            outputDirectory: trusting, ["+tls", certs + "/server.key", certs + "/server.crt", "+cf", certs + "/ca.crt"])
        defer { destination.stop() }
        let strangers = try PeerProcess.dcmtkStorescp(
            outputDirectory: try Corpus.temporaryDirectory("tls-strangers"),
            ["+tls", certs + "/other.key", certs + "/other.crt", "+cf", certs + "/other.crt"])
        defer { strangers.stop() }
        let archive = try QRSCPProcess(
            files: [], extra: ["+tls", certs + "/server.key", certs + "/server.crt", "+cf", certs + "/ca.crt"],
            destinations: [("SECURE", destination.port), ("STRANGER", strangers.port)], indexInPlace: [legacy])
        defer { archive.peer.stop() }
        let client = ["+tls", certs + "/client.key", certs + "/client.crt", "+cf", certs + "/ca.crt"]
        let keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID"]
        let address = ["127.0.0.1", String(archive.peer.port)]

        let (found, log) = try archive.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"], extra: client)
        let studies = Set(try files.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        #expect(Set(found.compactMap { $0.string(Tag(0x0020, 0x000D)) }) == studies, "\(log)")
        let plain = try FerryCLI.run(["findscu", "-S", "-aec", "QRSCP"] + keys + address)
        #expect(plain.status != 0, "a query without TLS is not served: \(plain.stderr)")

        let move = [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.sorted().joined(separator: "\\"))",
        ]
        let secure = try FerryCLI.run(["movescu", "-S", "-aec", "QRSCP", "-aem", "SECURE"] + client + move + address)
        #expect(secure.status == 0, "\(secure.stderr)")
        #expect(
            Interop.compare(
                sent: try Interop.sources("tiny").filter { files.contains($0.value) },
                received: Interop.received(trusting)
            )
            .isEmpty)
        #expect(DirectoryWalker().files(under: [trusting]).count == files.count)
        let refused = try FerryCLI.run(
            ["movescu", "-S", "-aec", "QRSCP", "-aem", "STRANGER"] + client + move + address)
        #expect(refused.status == 69 && refused.stderr.contains("0xA702"), "\(refused.stderr)")
    }
}
