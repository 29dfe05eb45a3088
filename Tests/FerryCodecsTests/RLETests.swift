import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// RLE against DCMTK (dcmdrle, dcmcrle) and GDCM (gdcmconv --raw) on the corpora.
@Suite(.scratch)
struct RLETests {
    /// Every RLE file of tiny, small and stress decodes to the same bytes as dcmdrle's and
    /// gdcmconv --raw's output.
    @Test func decodeEqualsDCMTKAndGDCM() throws {
        let files = try CodecCorpus.files(.rleLossless)
        #expect(files.count >= 10)
        for path in files {
            let mine = try CodecCorpus.decodedPixels(path)
            #expect(mine == (try CodecCorpus.reference(path, .dcmtk)), "\(path): differs from dcmdrle")
            #expect(mine == (try CodecCorpus.reference(path, .gdcm)), "\(path): differs from gdcmconv --raw")
        }
    }

    /// Ferry's RLE encodings of every uncompressed file decode, with dcmdrle and GDCM, to
    /// the original pixels, and dcmdump reads them without a warning.
    @Test func encodeIsDecodedByDCMTKAndGDCM() throws {
        let files =
            try CodecCorpus.files(.explicitVRLittleEndian).prefix(12)
            + CodecCorpus.files(.implicitVRLittleEndian).prefix(6)
        #expect(files.count >= 10)
        let dir = try Corpus.temporaryDirectory("rle-encode")
        for (i, path) in files.enumerated() {
            let rle = dir + "/rle\(i).dcm", back = dir + "/back\(i).dcm", gdcmBack = dir + "/gback\(i).dcm"
            try Transcoder().transcodeFile(path, to: .rleLossless, writingTo: rle)
            #expect((try HeaderScan.summary(path: rle)).transferSyntaxUID == TransferSyntax.rleLossless.uid)
            let dump = try Tools.run("/usr/bin/dcmdump", ["-q", rle])
            #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdrle", [rle, back]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", rle, gdcmBack]).status == 0)
            let original = try CodecCorpus.pixels(path)
            #expect(try CodecCorpus.pixels(back) == original, "\(path): dcmdrle does not give back the pixels")
            #expect(try CodecCorpus.pixels(gdcmBack) == original, "\(path): gdcmconv does not give back the pixels")
        }
    }

    @Test func colorAndMultiFrameRoundTrip() throws {
        for (spp, bits, planar, frames) in [(3, 8, 0, 2), (3, 8, 1, 1), (1, 32, 0, 3), (1, 16, 0, 1)] {
            let image = ImageDescription(
                rows: 7, columns: 9, samplesPerPixel: spp, bitsAllocated: bits, planarConfiguration: planar)
            var rng = SystemRandomNumberGenerator()
            for _ in 0..<frames {
                // Runs and noise, so both PackBits forms occur.
                let frame = (0..<(image.frameLength ?? 0)).map { i in
                    i % 7 < 3 ? UInt8(i / 20 % 256) : UInt8.random(in: 0...255, using: &rng)
                }
                let encoded = try RLECodec().encode(frame[...], image: image)
                #expect(try RLECodec().decode([encoded[...]], image: image) == frame)
            }
        }
    }

    /// Malformed streams are errors, never crashes or huge allocations.
    @Test func corruptStreams() throws {
        let image = ImageDescription(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 16)
        let good = try RLECodec().encode([UInt8](repeating: 7, count: 512)[...], image: image)
        var wrongCount = good; wrongCount[0] = 3
        var badOffset = good; badOffset[8] = 0xFF; badOffset[9] = 0xFF
        let truncated = Array(good.prefix(good.count - 3))
        for (name, bytes) in [
            ("truncated header", Array(good.prefix(20))), ("segment count", wrongCount), ("offset", badOffset),
            ("truncated segment", truncated), ("empty", []),
        ] {
            #expect(throws: CodecError.self, "\(name)") { try RLECodec().decode([bytes[...]], image: image) }
        }
        let wrongDimensions = ImageDescription(rows: 32, columns: 16, samplesPerPixel: 1, bitsAllocated: 16)
        #expect(throws: CodecError.self) { try RLECodec().decode([good[...]], image: wrongDimensions) }
        let huge = ImageDescription(rows: Int.max / 2, columns: 4, samplesPerPixel: 3, bitsAllocated: 16)
        #expect(throws: CodecError.self) { try RLECodec().decode([good[...]], image: huge) }
    }

    /// A corrupt file in a directory is reported with its path and the others are transcoded.
    @Test func transcodeContinuesPastABadFile() throws {
        let dir = try Corpus.temporaryDirectory("rle-dir")
        let files = try CodecCorpus.files(.rleLossless).prefix(2)
        for (i, f) in files.enumerated() { try FileManager.default.copyItem(atPath: f, toPath: dir + "/f\(i).dcm") }
        var bytes = try FileBytes.readAll(dir + "/f0.dcm")
        bytes.removeLast(bytes.count / 3)
        try FileBytes.write(bytes, to: dir + "/f0.dcm")
        let out = try Corpus.temporaryDirectory("rle-dir-out")
        let result = try FerryCLI.run(["transcode", dir, out, "--to", "explicit"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("f0.dcm"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/f1.dcm"))
        #expect(!FileManager.default.fileExists(atPath: out + "/f0.dcm"))
    }
}
