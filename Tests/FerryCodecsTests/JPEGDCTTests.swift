import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// JPEG baseline (4.50) and extended 12-bit (4.51), decoded in Swift, against DCMTK
/// (dcmdjpeg) and GDCM (gdcmconv --raw); baseline encodings decoded by both.
@Suite(.scratch)
struct JPEGDCTTests {
    /// Every 4.50 and 4.51 file of tiny, small and stress: within 1 of dcmdjpeg and GDCM
    /// (their integer IDCT rounds differently from Ferry's float one; T.81 allows it), and
    /// mostly identical.
    @Test(arguments: [TransferSyntax.jpegBaseline, .jpegExtended])
    func decodeWithinOneOfDCMTKAndGDCM(ts: TransferSyntax) throws {
        let files = try CodecCorpus.files(ts)
        #expect(files.count >= 5)
        for path in files {
            let decoded = try CodecCorpus.decoded(path)
            let mine = Array(try #require(decoded[.pixelData]?.bytes))
            let wide = ts == .jpegExtended
            let dcmtk = try CodecCorpus.reference(path, .dcmtk)
            for (name, other) in [("dcmdjpeg", dcmtk), ("gdcmconv", try CodecCorpus.reference(path, .gdcm))] {
                #expect(
                    ReferencePixels.maxDifference(mine, other, wide: wide) <= 1,
                    "\(path): differs from \(name) by more than 1")
            }
            let same = zip(mine, dcmtk).filter { $0 == $1 }.count
            #expect(Double(same) / Double(max(1, mine.count)) > 0.9, "\(path): mostly identical to dcmdjpeg")
            #expect(decoded.string(.lossyImageCompression) == "01")
        }
    }

    /// Colour: the corpus's RGB images compressed by DCMTK dcmcjpeg (baseline, YBR_FULL_422,
    /// 4:2:2 subsampled) decode to RGB within 3 of dcmdjpeg's output: an IDCT rounding step of 1
    /// in Cb or Cr becomes up to 1.8 in R or B.
    @Test func subsampledColourFromDCMTK() throws {
        let rgb = try CodecCorpus.files(.explicitVRLittleEndian).filter {
            (try? HeaderScan.summary(path: $0))?.pixel?.samplesPerPixel == 3
        }
        #expect(!rgb.isEmpty)
        let dir = try Corpus.temporaryDirectory("dct-colour")
        for (i, path) in rgb.enumerated() {
            let jpeg = dir + "/c\(i).dcm", dcmtk = dir + "/d\(i).dcm"
            #expect(try Tools.run("/usr/bin/dcmcjpeg", ["+eb", path, jpeg]).status == 0)
            #expect((try Part10Reader.read(path: jpeg)).dataSet.string(.photometricInterpretation) == "YBR_FULL_422")
            #expect(try Tools.run("/usr/bin/dcmdjpeg", [jpeg, dcmtk]).status == 0)
            let mine = try CodecCorpus.decoded(jpeg)
            #expect(mine.string(.photometricInterpretation) == "RGB")
            let difference = ReferencePixels.maxDifference(
                Array(try #require(mine[.pixelData]?.bytes)), try CodecCorpus.pixels(dcmtk), wide: false)
            #expect(difference <= 3, "\(path): differs from dcmdjpeg by \(difference)")
        }
    }

    /// Baseline and extended (SOF1) encodings of 8-bit images (grey and RGB) are read by dcmdump without warnings
    /// and decoded by dcmdjpeg and GDCM close to the source; they are marked lossy, with a new
    /// SOP Instance UID.
    @Test(arguments: ["jpeg-baseline", "jpeg-extended"])
    func encodeIsDecodedByDCMTKAndGDCM(to syntax: String) throws {
        var files = try CodecCorpus.files(.explicitVRLittleEndian).filter {
            (try? HeaderScan.summary(path: $0))?.pixel?.bitsAllocated == 8
        }
        let dir = try Corpus.temporaryDirectory("dct-encode")
        // An 8-bit grey image too: Ferry's own decoding of a baseline file, written uncompressed.
        let grey = dir + "/grey.dcm"
        let baseline = try #require(try CodecCorpus.files(.jpegBaseline).first)
        try Transcoder().transcodeFile(baseline, to: .explicitVRLittleEndian, writingTo: grey)
        files.append(grey)
        #expect(files.count >= 2)
        for (i, path) in files.enumerated() {
            let jpeg = dir + "/jpeg\(i).dcm", back = dir + "/back\(i).dcm", gdcmBack = dir + "/gback\(i).dcm"
            let expected = syntax == "jpeg-baseline" ? TransferSyntax.jpegBaseline : .jpegExtended
            try Transcoder().transcodeFile(path, to: expected, writingTo: jpeg)
            #expect(try HeaderScan.summary(path: jpeg).transferSyntaxUID == expected.uid)
            let dump = try Tools.run("/usr/bin/dcmdump", ["-q", jpeg])
            #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpeg", [jpeg, back]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", jpeg, gdcmBack]).status == 0)
            let original = try CodecCorpus.pixels(path)
            let mean = { (a: [UInt8]) -> Double in
                Double(zip(a, original).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(max(1, a.count))
            }
            #expect(mean(try CodecCorpus.pixels(back)) < 3, "\(path): dcmdjpeg's decoding is far from the source")
            // GDCM keeps a colour image in YBR_FULL (DCMTK converts to RGB): convert it here.
            var gdcm = try CodecCorpus.pixels(gdcmBack)
            if (try Part10Reader.read(path: gdcmBack)).dataSet.string(.photometricInterpretation) == "YBR_FULL" {
                gdcm = Self.rgb(fromYBR: gdcm)
            }
            #expect(mean(gdcm) < 3, "\(path): GDCM's decoding is far from the source")
            let source = try Part10Reader.read(path: path).dataSet, encoded = try Part10Reader.read(path: jpeg).dataSet
            #expect(
                encoded.string(.lossyImageCompression) == "01"
                    && encoded.string(.lossyImageCompressionMethod)?.hasSuffix("ISO_10918_1") == true)
            #expect(encoded.string(.sopInstanceUID) != source.string(.sopInstanceUID))
            #expect(
                try Part10Reader.read(path: jpeg).meta.string(.mediaStorageSOPInstanceUID)
                    == encoded.string(.sopInstanceUID))
        }
    }

    /// JFIF YCbCr to RGB, interleaved 8-bit samples.
    static func rgb(fromYBR p: [UInt8]) -> [UInt8] {
        var out = p
        for i in stride(from: 0, to: p.count - 2, by: 3) {
            let y = Double(p[i]), cb = Double(p[i + 1]) - 128, cr = Double(p[i + 2]) - 128
            let clamp = { (v: Double) in UInt8(max(0, min(255, v.rounded()))) }
            out[i] = clamp(y + 1.402 * cr); out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
            out[i + 2] = clamp(y + 1.772 * cb)
        }
        return out
    }

    @Test func corruptStreamsAndWrongDimensions() throws {
        let path = try #require(try CodecCorpus.files(.jpegBaseline).first)
        let file = try Part10Reader.read(path: path)
        let stream = Array(try #require(try file.dataSet.encapsulatedFrames())[0].joined())
        let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
        let codec = JPEGDCTCodec(.jpegBaseline)
        #expect(try codec.decode([stream[...]], image: image).count == image.frameLength)
        // Truncated in the tables, an SOI alone, noise, no stream.
        for bytes in [Array(stream.prefix(60)), [0xFF, 0xD8], Array(repeating: 0x55, count: 300), []] {
            #expect(throws: CodecError.self) { try codec.decode([bytes[...]], image: image) }
        }
        // Bad Huffman table: every count 255 over-subscribes the code space.
        var bad = stream
        if let dht = (0..<(bad.count - 1)).first(where: { bad[$0] == 0xFF && bad[$0 + 1] == 0xC4 }) {
            for k in 0..<16 { bad[dht + 5 + k] = 0xFF }
            #expect(throws: CodecError.self) { try codec.decode([bad[...]], image: image) }
        } else {
            Issue.record("no DHT segment in \(path)")
        }
        // Dimensions that disagree with the data set; precision above Bits Allocated.
        var taller = image; taller.rows += 8
        #expect(throws: CodecError.self) { try codec.decode([stream[...]], image: taller) }
        var colour = image; colour.samplesPerPixel = 3
        #expect(throws: CodecError.self) { try codec.decode([stream[...]], image: colour) }
        // Truncated entropy data decodes to an error or an image of the right size (libjpeg
        // pads a short scan with zeros), never a crash.
        let short = Array(stream.prefix(stream.count * 2 / 3))
        if let pixels = try? codec.decode([short[...]], image: image) { #expect(pixels.count == image.frameLength) }
    }
}
