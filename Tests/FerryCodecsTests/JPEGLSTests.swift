import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// JPEG-LS (CharLS) against DCMTK (dcmdjpls) and GDCM (gdcmconv --raw).
@Suite(.scratch)
struct JPEGLSTests {
    /// Every JPEG-LS file (lossless and near-lossless) of the corpora decodes byte for byte as
    /// dcmdjpls and gdcmconv do (JPEG-LS decoding is exact, lossy or not).
    @Test(arguments: [TransferSyntax.jpegLSLossless, .jpegLSNearLossless])
    func decodeEqualsDCMTKAndGDCM(ts: TransferSyntax) throws {
        let files = try CodecCorpus.files(ts)
        #expect(files.count >= 5)
        for path in files {
            let mine = try CodecCorpus.decodedPixels(path)
            #expect(mine == (try CodecCorpus.reference(path, .dcmtk)), "\(path): differs from dcmdjpls")
            #expect(mine == (try CodecCorpus.reference(path, .gdcm)), "\(path): differs from gdcmconv --raw")
        }
    }

    /// Ferry's JPEG-LS lossless encodings decode with dcmdjpls and GDCM to the original pixels.
    @Test func encodeIsDecodedByDCMTKAndGDCM() throws {
        let files =
            try CodecCorpus.files(.explicitVRLittleEndian).prefix(10)
            + CodecCorpus.files(.implicitVRLittleEndian).prefix(4)
        let dir = try Corpus.temporaryDirectory("jls-encode")
        for (i, path) in files.enumerated() {
            let jls = dir + "/jls\(i).dcm", back = dir + "/back\(i).dcm", gdcmBack = dir + "/gback\(i).dcm"
            try Transcoder().transcodeFile(path, to: .jpegLSLossless, writingTo: jls)
            let dump = try Tools.run("/usr/bin/dcmdump", ["-q", jls])
            #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpls", [jls, back]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", jls, gdcmBack]).status == 0)
            let original = try CodecCorpus.pixels(path)
            #expect(try CodecCorpus.pixels(back) == original, "\(path): dcmdjpls does not give back the pixels")
            #expect(try CodecCorpus.pixels(gdcmBack) == original, "\(path): gdcmconv does not give back the pixels")
        }
    }

    @Test func corruptStreamsAndWrongDimensions() throws {
        let image = ImageDescription(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 16)
        let frame = (0..<512).map { UInt8($0 % 251) }
        let good = try JPEGLSCodec().encode(frame[...], image: image)
        #expect(try JPEGLSCodec().decode([good[...]], image: image) == frame)
        for bytes in [
            Array(good.prefix(good.count / 2)), [0xFF, 0xD8, 0xFF, 0xF7], [], Array(repeating: 0xFF, count: 64),
        ] {
            #expect(throws: CodecError.self) { try JPEGLSCodec().decode([bytes[...]], image: image) }
        }
        #expect(throws: CodecError.self) {
            try JPEGLSCodec().decode(
                [good[...]], image: ImageDescription(rows: 17, columns: 16, samplesPerPixel: 1, bitsAllocated: 16))
        }
        #expect(throws: CodecError.self) {
            try JPEGLSCodec().decode(
                [good[...]], image: ImageDescription(rows: 16, columns: 16, samplesPerPixel: 3, bitsAllocated: 16))
        }
        #expect(throws: CodecError.self) {
            try JPEGLSCodec().decode(
                [good[...]], image: ImageDescription(rows: 16, columns: 16, samplesPerPixel: 1, bitsAllocated: 8))
        }
    }
}
