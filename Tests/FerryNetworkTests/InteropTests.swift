import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry storescu` against real peers started here: every file of the corpus arrives and
/// the received data set equals the sent one, for each propose option that applies.
@Suite(.serialized, .scratch)
struct InteropTests {
    static let dcmtkOptionSets: [[String]] = [
        [], ["-xe"], ["-xb"], ["-xi"], ["+C"], ["-R"], ["-xd"], ["-R", "+C", "-xi"], ["-xs"], ["-xv"],
        ["-pdu", "4096", "--max-send-pdu", "4096"],
    ]

    @Test("tiny corpus to DCMTK storescp", arguments: dcmtkOptionSets)
    func tinyToDCMTK(options: [String]) throws {
        try sendToDCMTK("tiny", options: options)
    }

    @Test("small corpus to DCMTK storescp", arguments: [[String](), ["-xi"]])
    func smallToDCMTK(options: [String]) throws {
        try sendToDCMTK("small", options: options)
    }

    @Test("corpus to pynetdicom storescp", arguments: ["tiny", "small"])
    func toPynetdicom(profile: String) throws {
        let sent = try Interop.sources(profile)
        let out = try Corpus.temporaryDirectory("rx-pynetdicom")
        let peer = try PeerProcess.pynetdicomStorescp(outputDirectory: out)
        defer { peer.stop() }
        let result = try FerryCLI.run(
            ["storescu", "+sd", "+r", "127.0.0.1", String(peer.port)] + Interop.corpusRoots(profile))
        #expect(result.status == 0, "\(result.stderr)")
        let problems = Interop.compare(sent: sent, received: Interop.received(out))
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    private func sendToDCMTK(_ profile: String, options: [String]) throws {
        let sent = try Interop.sources(profile)
        let out = try Corpus.temporaryDirectory("rx-dcmtk")
        let config = try Interop.acceptAllProfile(for: sent, directory: try Corpus.temporaryDirectory("cfg"))
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["-xf", config, "AcceptAll"])
        defer { peer.stop() }
        let result = try FerryCLI.run(
            ["storescu", "+sd", "+r"] + options + ["127.0.0.1", String(peer.port)] + Interop.corpusRoots(profile))
        #expect(result.status == 0, "\(result.stderr)")
        let received = Interop.received(out)
        #expect(received.count == sent.count, "sent \(sent.count), received \(received.count)")
        let problems = Interop.compare(sent: sent, received: received)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        // The options decide the syntax uncompressed files travel in when their own is not preferred.
        if options.contains("-xd") {
            let deflated = try received.values.filter {
                try HeaderScan.summary(path: $0).transferSyntaxUID == TransferSyntax.deflatedExplicitVRLittleEndian.uid
            }
            #expect(deflated.count > 1, "with -xd, uncompressed files travel deflated")
        }
        if options == ["-xi"] || options == ["-R", "+C", "-xi"] {
            let explicit = try received.values.filter {
                try HeaderScan.summary(path: $0).transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid
            }
            #expect(explicit.isEmpty, "with -xi nothing travels as explicit VR little endian")
        }
    }
}
