import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// JPEG Lossless Process 14 (4.57) and SV1 (4.70), decoded in Swift, against DCMTK
/// (dcmdjpeg) and GDCM (gdcmconv --raw).
@Suite(.scratch)
struct JPEGLosslessTests {
    @Test(arguments: [TransferSyntax.jpegLosslessProcess14, .jpegLosslessSV1])
    func decodeEqualsDCMTKAndGDCM(ts: TransferSyntax) throws {
        let files = try CodecCorpus.files(ts)
        #expect(files.count >= 5)
        for path in files {
            let mine = try CodecCorpus.decodedPixels(path)
            #expect(mine == (try CodecCorpus.reference(path, .dcmtk)), "\(path): differs from dcmdjpeg")
            #expect(mine == (try CodecCorpus.reference(path, .gdcm)), "\(path): differs from gdcmconv --raw")
        }
    }

    /// Every selection value (predictor) 1-7, with and without a point transform, on 16-bit
    /// grey and 8-bit colour images that DCMTK's dcmcjpeg encodes: equal to dcmdjpeg's output.
    /// (The corpus itself holds predictors 1 and 6 only.)
    @Test func everySelectionValueEqualsDCMTK() throws {
        let uncompressed = try CodecCorpus.files(.explicitVRLittleEndian)
        func first(samples: Int, bits: Int) -> String? {
            uncompressed.first { path in
                guard let a = try? PixelAttributes(Part10Reader.read(path: path).dataSet) else { return false }
                return a.samplesPerPixel == samples && a.bitsAllocated == bits
            }
        }
        let sources = [first(samples: 1, bits: 16), first(samples: 3, bits: 8)].compactMap { $0 }
        #expect(sources.count == 2)
        let dir = try Corpus.temporaryDirectory("jpegll-sv")
        for (i, path) in sources.enumerated() {
            for sv in 1...7 {
                for pt in [0, 2] {
                    let jpeg = dir + "/f\(i)-sv\(sv)-pt\(pt).dcm", dcmtkOut = jpeg + ".dcmtk"
                    #expect(
                        try Tools.run("/usr/bin/dcmcjpeg", ["+el", "+sv", "\(sv)", "+pt", "\(pt)", path, jpeg]).status
                            == 0)
                    #expect(try Tools.run("/usr/bin/dcmdjpeg", [jpeg, dcmtkOut]).status == 0)
                    #expect(
                        try CodecCorpus.decodedPixels(jpeg) == (try CodecCorpus.pixels(dcmtkOut)),
                        "\(path) sv \(sv) pt \(pt): differs from dcmdjpeg")
                }
            }
        }
    }

    @Test func corruptStreams() throws {
        let files = try CodecCorpus.files(.jpegLosslessSV1)
        let path = try #require(files.first)
        let file = try Part10Reader.read(path: path)
        let frames = try #require(try file.dataSet.encapsulatedFrames())
        let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
        let stream = Array(frames[0].joined())
        let codec = JPEGLosslessCodec()
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(stream.count / 2)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(40)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([[0xFF, 0xD8, 0xFF, 0xD9][...]], image: image) }
        #expect(throws: CodecError.self) {
            try codec.decode(
                [stream[...]],
                image: ImageDescription(
                    rows: image.rows + 1, columns: image.columns, samplesPerPixel: 1, bitsAllocated: 16))
        }
    }
}

/// Ferry's JPEG lossless SV1 encodings decode with dcmdjpeg and GDCM to the original pixels.
@Suite(.scratch)
struct JPEGLosslessEncodeTests {
    @Test func encodeIsDecodedByDCMTKAndGDCM() throws {
        let files =
            try CodecCorpus.files(.explicitVRLittleEndian).prefix(10)
            + CodecCorpus.files(.implicitVRLittleEndian).prefix(4)
        let dir = try Corpus.temporaryDirectory("jpegll-encode")
        for (i, path) in files.enumerated() {
            let jpeg = dir + "/ll\(i).dcm", back = dir + "/back\(i).dcm", gdcmBack = dir + "/gback\(i).dcm"
            try Transcoder().transcodeFile(path, to: .jpegLosslessSV1, writingTo: jpeg)
            let dump = try Tools.run("/usr/bin/dcmdump", ["-q", jpeg])
            #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpeg", [jpeg, back]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", jpeg, gdcmBack]).status == 0)
            let original = try CodecCorpus.pixels(path)
            #expect(try CodecCorpus.pixels(back) == original, "\(path): dcmdjpeg does not give back the pixels")
            #expect(try CodecCorpus.pixels(gdcmBack) == original, "\(path): gdcmconv does not give back the pixels")
        }
    }

    @Test func roundTripsIncludingWrapAndColor() throws {
        var rng = SystemRandomNumberGenerator()
        for (spp, bits, planar) in [(1, 16, 0), (3, 8, 0), (3, 8, 1), (1, 8, 0)] {
            let image = ImageDescription(
                rows: 11, columns: 13, samplesPerPixel: spp, bitsAllocated: bits, planarConfiguration: planar)
            // Extremes next to each other force differences of +-32768 (category 16 and the wrap).
            let frame = (0..<(image.frameLength ?? 0)).map { i in
                i % 5 == 0 ? UInt8(0xFF) : i % 5 == 1 ? 0 : UInt8.random(in: 0...255, using: &rng)
            }
            let encoded = try JPEGLosslessCodec().encode(frame[...], image: image)
            #expect(try JPEGLosslessCodec().decode([encoded[...]], image: image) == frame)
        }
    }
}
