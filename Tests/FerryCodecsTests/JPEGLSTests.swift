import FerryCodecs
import FerryDICOM
import Foundation
import Testing
import TestSupport

/// JPEG-LS (CharLS) against DCMTK (dcmdjpls) and GDCM (gdcmconv --raw).
@Suite(.serialized)
struct JPEGLSTests {
    /// Every JPEG-LS file (lossless and near-lossless) of the corpora decodes byte for byte as
    /// dcmdjpls and gdcmconv do (JPEG-LS decoding is exact, lossy or not).
    @Test(arguments: [TransferSyntax.jpegLSLossless, .jpegLSNearLossless])
    func decodeEqualsDCMTKAndGDCM(ts: TransferSyntax) throws {
        let files = try RLETests.files(ts)
        #expect(files.count >= 5)
        let dir = try Corpus.temporaryDirectory("jls-decode")
        for (i, path) in files.enumerated() {
            let ferryOut = dir + "/ferry\(i).dcm", dcmtkOut = dir + "/dcmtk\(i).dcm", gdcmOut = dir + "/gdcm\(i).dcm"
            let ferry = try FerryCLI.run(["transcode", path, ferryOut, "--to", "explicit"])
            #expect(ferry.status == 0, "\(ferry.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpls", [path, dcmtkOut]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", path, gdcmOut]).status == 0)
            let mine = try RLETests.pixels(ferryOut)
            #expect(mine == (try RLETests.pixels(dcmtkOut)), "\(path): differs from dcmdjpls")
            #expect(mine == (try RLETests.pixels(gdcmOut)), "\(path): differs from gdcmconv --raw")
        }
    }

    /// Ferry's JPEG-LS lossless encodings decode with dcmdjpls and GDCM to the original pixels.
    @Test func encodeIsDecodedByDCMTKAndGDCM() throws {
        let files = try RLETests.files(.explicitVRLittleEndian).prefix(10) + RLETests.files(.implicitVRLittleEndian).prefix(4)
        let dir = try Corpus.temporaryDirectory("jls-encode")
        for (i, path) in files.enumerated() {
            let jls = dir + "/jls\(i).dcm", back = dir + "/back\(i).dcm", gdcmBack = dir + "/gback\(i).dcm"
            let ferry = try FerryCLI.run(["transcode", path, jls, "--to", "jpegls"])
            #expect(ferry.status == 0, "\(ferry.stderr)")
            let dump = try Tools.run("/usr/bin/dcmdump", ["-q", jls])
            #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpls", [jls, back]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", jls, gdcmBack]).status == 0)
            let original = try RLETests.pixels(path)
            #expect(try RLETests.pixels(back) == original, "\(path): dcmdjpls does not give back the pixels")
            #expect(try RLETests.pixels(gdcmBack) == original, "\(path): gdcmconv does not give back the pixels")
        }
    }

    @Test func corruptStreamsAndWrongDimensions() throws {
        let image = ImageDescription(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 16)
        let frame = (0..<512).map { UInt8($0 % 251) }
        let good = try JPEGLSCodec().encode(frame[...], image: image)
        #expect(try JPEGLSCodec().decode([good[...]], image: image) == frame)
        for bytes in [Array(good.prefix(good.count / 2)), [0xFF, 0xD8, 0xFF, 0xF7], [], Array(repeating: 0xFF, count: 64)] {
            #expect(throws: CodecError.self) { try JPEGLSCodec().decode([bytes[...]], image: image) }
        }
        #expect(throws: CodecError.self) { try JPEGLSCodec().decode([good[...]], image: ImageDescription(rows: 17, columns: 16, samplesPerPixel: 1, bitsAllocated: 16)) }
        #expect(throws: CodecError.self) { try JPEGLSCodec().decode([good[...]], image: ImageDescription(rows: 16, columns: 16, samplesPerPixel: 3, bitsAllocated: 16)) }
        #expect(throws: CodecError.self) { try JPEGLSCodec().decode([good[...]], image: ImageDescription(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 8)) }
    }
}
