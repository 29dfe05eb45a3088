import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// A 500-byte RLE file that claims a 51.5 GB image (issue 14): `ferry transcode` and `ferry run`
/// refuse it with the sizes, stay under 100 MB, and a run delivers the other files.
@Suite(.scratch)
struct HostileFileTests {
    static func hostileFile(in dir: String) throws -> String {
        let path = dir + "/huge.dcm"
        try FileBytes.write(HostileFiles.rleClaiming(.huge), to: path)
        return path
    }

    @Test func transcodeRefusesAClaimOverThePixelBudgetInLittleMemory() throws {
        let dir = try Corpus.temporaryDirectory("hostile-transcode")
        let path = try Self.hostileFile(in: dir)
        let (out, kib) = try PeakMemory.run(
            FerryCLI.path, ["transcode", path, dir + "/out.dcm", "--to", "explicit-le"])
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains("E: \(path): the image needs 48.0 GiB of decoded pixel data"), "\(out.stderr)")
        #expect(out.stderr.contains("over the pixel budget of 2.0 GiB [over-budget]"))
        #expect(kib < 100 * 1024, "peak \(kib) KiB")
        // Past the budget, the RLE codec refuses the stream before allocating its planes.
        let (big, bigKiB) = try PeakMemory.run(
            FerryCLI.path, ["transcode", path, dir + "/out.dcm", "--to", "explicit-le", "--pixel-budget", "100G"])
        #expect(big.status == 1 && big.stderr.contains("too few for a plane"), "\(big.stderr)")
        #expect(bigKiB < 100 * 1024, "peak \(bigKiB) KiB")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.dcm"))
    }

    /// CharLS 2.4.1 loops for about 13 s on this truncated scan; the decoder process is stopped
    /// at its limit (5 s and a share per decoded megabyte) and the file fails with the reason.
    @Test func transcodeStopsADecoderStuckInItsLibrary() throws {
        let dir = try Corpus.temporaryDirectory("stalling-transcode")
        let path = dir + "/stalling.dcm"
        try FileBytes.write(HostileFiles.stallingJPEGLS(), to: path)
        let out = try FerryCLI.run(["transcode", path, dir + "/out.dcm", "--to", "explicit-le"])
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains("E: \(path): frame 1: decoder process: over its time limit"), "\(out.stderr)")
        #expect(
            out.stderr.contains(
                "JPEG-LS Lossy (Near-Lossless) Image Compression decoding in a separate process, limit 6 s"),
            "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/out.dcm"))
    }

    /// Into a receiver that takes uncompressed syntaxes only, so the RLE file must be decoded.
    @Test func runFailsTheClaimWithItsReasonAndSendsTheRest() throws {
        let rx = try Corpus.temporaryDirectory("rx-hostile")
        let receiver = try PeerProcess.dcmtkStorescp(outputDirectory: rx)
        defer { receiver.stop() }
        let src = try Corpus.temporaryDirectory("hostile-src")
        let good = try Interop.uncompressedFiles("tiny").prefix(3)
        for (i, f) in good.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm") }
        let hostile = try Self.hostileFile(in: src)
        let stalling = src + "/stalling.dcm"
        try FileBytes.write(HostileFiles.stallingJPEGLS(), to: stalling)
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let arguments = [
            "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--name", "t", "--quiet",
            "--source", src,
        ]
        let (out, kib) = try PeakMemory.run(FerryCLI.path, arguments)
        #expect(out.status == 1, "one file failed: \(out.stderr)")
        #expect(kib < 100 * 1024, "peak \(kib) KiB")
        let rows = try Manifest(path: manifest, exclusive: false).instances()
        let failed = try #require(rows.first { $0.path == hostile })
        #expect(failed.state == .failed)
        #expect(failed.error?.contains("over the pixel budget of 2.0 GiB") == true, "\(failed.error ?? "")")
        // The JPEG-LS scan that keeps CharLS busy for 13 s is stopped at its decoder process's limit.
        let stalled = try #require(rows.first { $0.path == stalling })
        #expect(stalled.state == .failed)
        #expect(stalled.error?.contains("over its time limit") == true, "\(stalled.error ?? "")")
        #expect(rows.filter { $0.state == .done }.count == good.count)
        #expect(Interop.received(rx).count == good.count)
        // A second run on the same manifest finishes the same way.
        let again = try FerryCLI.run(arguments)
        #expect(again.status == 1, "\(again.stderr)")
    }
}
