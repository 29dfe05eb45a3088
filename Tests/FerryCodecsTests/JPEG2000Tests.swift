import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// JPEG 2000 decoding (OpenJPEG) against GDCM (gdcmconv --raw; DCMTK 3.6.7 has no JPEG 2000).
@Suite(.scratch)
struct JPEG2000Tests {
    @Test(arguments: [TransferSyntax.jpeg2000Lossless, .jpeg2000])
    func decodeEqualsGDCM(ts: TransferSyntax) throws {
        let files = try CodecCorpus.files(ts)
        #expect(files.count >= 5)
        for path in files {
            #expect(
                try CodecCorpus.decodedPixels(path) == (try CodecCorpus.reference(path, .gdcm)),
                "\(path): differs from gdcmconv --raw")
        }
    }

    @Test func corruptStreams() throws {
        let path = try #require(try CodecCorpus.files(.jpeg2000Lossless).first)
        let file = try Part10Reader.read(path: path)
        let frames = try #require(try file.dataSet.encapsulatedFrames())
        let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
        let stream = Array(frames[0].joined())
        let codec = JPEG2000Codec()
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(stream.count / 3)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(10)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([[UInt8](repeating: 0x55, count: 200)[...]], image: image) }
        #expect(throws: CodecError.self) {
            try codec.decode(
                [stream[...]],
                image: ImageDescription(
                    rows: image.rows * 2, columns: image.columns, samplesPerPixel: 1, bitsAllocated: 16))
        }
    }

    /// Lossless JPEG 2000 encodings (grey and RGB, which goes YBR_RCT) decode with GDCM to the
    /// source pixels and pass dcmdump; lossy ones (4.91) stay close and are marked lossy.
    @Test func encodeIsDecodedByGDCM() throws {
        let files =
            try CodecCorpus.files(.explicitVRLittleEndian).prefix(8)
            + CodecCorpus.files(.implicitVRLittleEndian).prefix(3)
        let dir = try Corpus.temporaryDirectory("j2k-encode")
        for (i, path) in files.enumerated() {
            let original = try CodecCorpus.pixels(path)
            let wide = (try HeaderScan.summary(path: path)).pixel?.bitsAllocated == 16
            for (name, ts) in [("j2k-lossless", TransferSyntax.jpeg2000Lossless), ("j2k", TransferSyntax.jpeg2000)] {
                let j2k = dir + "/\(name)\(i).dcm", back = dir + "/back-\(name)\(i).dcm"
                try Transcoder().transcodeFile(path, to: ts, writingTo: j2k)
                let dump = try Tools.run("/usr/bin/dcmdump", ["-q", j2k])
                #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
                #expect(try Tools.run("gdcmconv", ["--raw", j2k, back]).status == 0)
                let decoded = try CodecCorpus.pixels(back)
                let encoded = try Part10Reader.read(path: j2k).dataSet
                if ts.isLossless {
                    #expect(decoded == original, "\(path): GDCM does not give back the pixels")
                    #expect(encoded.string(.lossyImageCompression) == nil)
                } else {
                    #expect(decoded.count == original.count)
                    let samples = wide ? original.count / 2 : original.count
                    var total = 0
                    for s in 0..<samples {
                        let a = wide ? Int(original[2 * s]) | Int(original[2 * s + 1]) << 8 : Int(original[s])
                        let b = wide ? Int(decoded[2 * s]) | Int(decoded[2 * s + 1]) << 8 : Int(decoded[s])
                        total += abs(a - b)
                    }
                    // 10:1 on noisy synthetic images: mean error under 1% of the sample range.
                    let range = Double(1 << ((try HeaderScan.summary(path: path)).pixel?.bitsStored ?? 8))
                    #expect(
                        Double(total) / Double(max(1, samples)) < range / 100,
                        "\(path): lossy decoding far from the source")
                    #expect(
                        encoded.string(.lossyImageCompression) == "01"
                            && encoded.string(.lossyImageCompressionMethod) == "ISO_15444_1")
                }
            }
        }
    }

    /// High-Throughput JPEG 2000 (4.201): the corpus's HTJ2K files, written by OpenJPH (Python
    /// imagecodecs; nothing on Debian writes HTJ2K) from uncompressed images, decode to what
    /// OpenJPH decodes them to, which for these lossless streams is the source pixels.
    @Test func htj2kDecodesAsOpenJPHDoes() throws {
        let files = try CodecCorpus.files(.htj2kLossless)
        #expect(files.count == 6)
        for path in files {
            #expect(
                try CodecCorpus.decodedPixels(path) == (try CodecCorpus.reference(path, .openjph)),
                "\(path): HTJ2K decoding differs from OpenJPH's")
        }
    }
}
