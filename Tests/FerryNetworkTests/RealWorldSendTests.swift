import FerryDICOM
import Foundation
import TestSupport
import Testing

/// The real-world layouts of RealWorldFiles travel: a data set with an encoding quirk is sent
/// re-encoded (well-formed), the others as they are.
@Suite(.scratch)
struct RealWorldSendTests {
    @Test func quirkyFilesAreSentAndTheOverrunIsMended() throws {
        let src = try Corpus.temporaryDirectory("real-world-src")
        let files: [(String, [UInt8])] = [
            ("be.dcm", RealWorldFiles.bigEndianWithoutMeta()), ("meta.dcm", RealWorldFiles.metaWithoutTransferSyntax()),
            ("overrun.dcm", RealWorldFiles.itemOverrunningItsSequence()),
        ]
        for (name, bytes) in files { try FileBytes.write(bytes, to: src + "/" + name) }
        let rx = try Corpus.temporaryDirectory("real-world-rx")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: rx, ["+xa"])
        defer { peer.stop() }
        let out = try FerryCLI.run(["storescu", "127.0.0.1", String(peer.port)] + files.map { src + "/" + $0.0 })
        #expect(out.status == 0, "\(out.stderr)")
        let received = Interop.received(rx)
        #expect(received.count == 3, "\(received.keys)")
        let stored = try #require(received["1.2.826.0.1.3680043.10.2.6"])
        let file = try Part10Reader.read(path: stored)
        #expect(file.layout.quirks.isEmpty, "sent re-encoded: \(file.layout.quirks)")
        guard case .sequence(let items)? = file.dataSet[Tag(0x0008, 0x1140)]?.value else {
            Issue.record("no sequence")
            return
        }
        #expect(items.first?.string(.patientID) == "PID3")
        let dump = try Tools.run("/usr/bin/dcmdump", [stored])
        #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
    }
}
