import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Transcoding while sending: `ferry storescu` decodes RLE for a receiver that takes only
/// uncompressed syntaxes, and encodes RLE for one that takes only RLE; pixels identical.
@Suite(.serialized, .scratch)
struct TranscodeOnTheWayTests {
    @Test func rleDecodedForAnUncompressedOnlyReceiver() throws {
        let rx = try Corpus.temporaryDirectory("rx-decode")
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: rx)  // DCMTK's default: uncompressed only
        defer { peer.stop() }
        let rle = try CodecCorpus.files(.rleLossless).filter { $0.contains("/tiny/") }
        #expect(!rle.isEmpty)
        let out = try FerryCLI.run(["storescu", "-v", "127.0.0.1", String(peer.port)] + rle)
        #expect(out.status == 0, "\(out.stderr)")
        let received = Interop.received(rx)
        for path in rle {
            let uid = try #require(try HeaderScan.summary(path: path).sopInstanceUID)
            let stored = try #require(received[uid])
            #expect(
                (try HeaderScan.summary(path: stored)).transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid)
            let reference = try Corpus.temporaryDirectory("dcmdrle") + "/ref.dcm"
            #expect(try Tools.run("/usr/bin/dcmdrle", [path, reference]).status == 0)
            #expect(try CodecCorpus.pixels(stored) == (try CodecCorpus.pixels(reference)))
        }
    }

    @Test func rleEncodedForAnRLEOnlyReceiver() throws {
        let rx = try Corpus.temporaryDirectory("rx-encode")
        let port = freePort()
        let peer = try PeerProcess(
            FerryCLI.path, ["storescp", "-od", rx, "--accept-ts", TransferSyntax.rleLossless.uid, String(port)],
            port: port)
        defer { peer.stop() }
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        let out = try FerryCLI.run(["storescu", "-v", "-xr", "127.0.0.1", String(port)] + files)  // -xr: propose RLE
        #expect(out.status == 0, "\(out.stderr)")
        let received = Interop.received(rx)
        #expect(received.count == files.count)
        for path in files {
            let uid = try #require(try HeaderScan.summary(path: path).sopInstanceUID)
            let stored = try #require(received[uid])
            #expect((try HeaderScan.summary(path: stored)).transferSyntaxUID == TransferSyntax.rleLossless.uid)
            let decoded = try Corpus.temporaryDirectory("dcmdrle") + "/back.dcm"
            #expect(try Tools.run("/usr/bin/dcmdrle", [stored, decoded]).status == 0)
            #expect(try CodecCorpus.pixels(decoded) == (try CodecCorpus.pixels(path)))
        }
    }
}
