import FerryDICOM
import Foundation
import TestSupport
import Testing

/// dcmqrscp's -xf FILE IN OUT on `ferry qrscp` (issue 15): profile IN decides what is
/// accepted for storage (the Query/Retrieve classes it leaves out are served as usual),
/// profile OUT how the C-MOVE sub-associations propose.
@Suite(.scratch)
struct QRSCPProfileTests {
    @Test func incomingAndOutgoingProfilesShapeBothDirections() throws {
        let files = try Interop.uncompressedFiles("tiny")
        try #require(!files.isEmpty)
        var classes = Set<String>()
        for f in files { if let c = try HeaderScan.summary(path: f).sopClassUID { classes.insert(c) } }
        let other = try #require(
            try Interop.sources("tiny").values.sorted().first {
                try HeaderScan.summary(path: $0).sopClassUID.map { !classes.contains($0) } ?? false
            })
        let dir = try Corpus.temporaryDirectory("qrscp-profiles")
        var text = """
            [[TransferSyntaxes]]
            [Uncompressed]
            TransferSyntax1 = 1.2.840.10008.1.2.1
            TransferSyntax2 = 1.2.840.10008.1.2
            [ImplicitOnly]
            TransferSyntax1 = 1.2.840.10008.1.2
            [[PresentationContexts]]

            """
        for (name, syntaxes) in [("In", "Uncompressed"), ("Out", "ImplicitOnly")] {
            text += "[\(name)Contexts]\n"
            for (i, c) in classes.sorted().enumerated() { text += "PresentationContext\(i + 1) = \(c)\\\(syntaxes)\n" }
        }
        text += "[[Profiles]]\n[In]\nPresentationContexts = InContexts\n[Out]\nPresentationContexts = OutContexts\n"
        try text.write(toFile: dir + "/profiles.cfg", atomically: true, encoding: .utf8)

        let out = try Corpus.temporaryDirectory("profile-destination")
        let destination = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["+xa"])
        defer { destination.stop() }
        let archive = try QRSCPProcess(
            files: files, extra: ["-xf", dir + "/profiles.cfg", "In", "Out"], destinations: [("DEST", destination.port)]
        )
        defer { archive.peer.stop() }
        // A class profile In leaves out is refused; the Q/R classes it leaves out are served.
        let refused = try FerryCLI.run(["storescu", "-aec", "QRSCP", "127.0.0.1", String(archive.peer.port), other])
        #expect(refused.status != 0 && refused.stderr.contains("No presentation context"), "\(refused.stderr)")
        let (found, log) = try archive.find("-S", ["QueryRetrieveLevel=IMAGE", "SOPInstanceUID"])
        #expect(found.count == files.count, "\(log)")

        let studies = Set(try files.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        let moveLog = try archive.move(studies: studies.sorted(), to: "DEST")
        #expect(moveLog.contains("Received Final Move Response (Success)"), "\(moveLog)")
        let received = Interop.received(out)
        #expect(
            Interop.compare(sent: try Interop.sources("tiny").filter { files.contains($0.value) }, received: received)
                .isEmpty)
        for path in received.values {
            #expect(try HeaderScan.summary(path: path).transferSyntaxUID == TransferSyntax.implicitVRLittleEndian.uid)
        }
    }

    /// -xi, without a profile: the sub-associations propose implicit VR little endian only.
    @Test func proposalOptionShapesSubAssociations() throws {
        let files = try Interop.uncompressedFiles("tiny")
        let out = try Corpus.temporaryDirectory("xi-destination")
        let destination = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["+xa"])
        defer { destination.stop() }
        let archive = try QRSCPProcess(files: files, extra: ["-xi"], destinations: [("DEST", destination.port)])
        defer { archive.peer.stop() }
        let studies = Set(try files.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        let moveLog = try archive.move(studies: studies.sorted(), to: "DEST")
        #expect(moveLog.contains("Received Final Move Response (Success)"), "\(moveLog)")
        let received = Interop.received(out)
        #expect(received.count == files.count)
        #expect(
            Interop.compare(sent: try Interop.sources("tiny").filter { files.contains($0.value) }, received: received)
                .isEmpty)
        for path in received.values {
            #expect(try HeaderScan.summary(path: path).transferSyntaxUID == TransferSyntax.implicitVRLittleEndian.uid)
        }
    }
}
