import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Streams built to break a decoder (issue 14): each is refused with a CodecError whose code
/// says why, before anything its header claims is allocated, and none traps the process.
@Suite(.scratch)
struct HostileStreamTests {
    // MARK: Pixel budget

    /// 65535 x 65535, 3 samples of 32 bits: 51.5 GB of pixels claimed by a 226-byte RLE frame.
    static let huge = ImageDescription(rows: 65535, columns: 65535, samplesPerPixel: 3, bitsAllocated: 32)

    @Test func anImageOverThePixelBudgetIsRefusedBeforeDecoding() throws {
        let ds = try Part10Reader.read(bytes: HostileFiles.rleClaiming(.huge)).dataSet
        #expect {
            try Transcoder().transcode(ds, from: .rleLossless, to: .explicitVRLittleEndian)
        } throws: { error in
            guard let e = error as? CodecError else { return false }
            return e.code == .overBudget && e.description.contains("over the pixel budget of 2.0 GiB")
                && e.description.contains("48.0 GiB")
        }
        // A budget set lower refuses a small image too, with the sizes.
        let small = try Part10Reader.read(
            bytes: HostileFiles.rleClaiming(.init(rows: 64, columns: 64, samplesPerPixel: 1, bitsAllocated: 8))
        ).dataSet
        #expect {
            try Transcoder(pixelBudget: 1000).transcode(small, from: .rleLossless, to: .explicitVRLittleEndian)
        } throws: { ($0 as? CodecError)?.description.contains("needs 4.0 KiB") == true }
    }

    /// With a budget that admits the claim, the RLE codec itself refuses: its segments are too
    /// short to fill the planes (PackBits gives at most 64 bytes per byte).
    @Test func rleSegmentsTooShortForTheirPlanesAreRefusedBeforeAllocating() throws {
        let frame = HostileFiles.rleFrame(segments: 12)
        #expect {
            try RLECodec().decode([frame[...]], image: Self.huge)
        } throws: { ($0 as? CodecError)?.code == .mismatch && "\($0)".contains("too few for a plane") }
    }

    @Test func budgetsParse() {
        #expect(ByteCount.parse("2GiB") == 2 << 30)
        #expect(ByteCount.parse("512M") == 512 << 20)
        #expect(ByteCount.parse("1.5 G") == 3 << 29)
        #expect(ByteCount.parse("4096") == 4096)
        #expect(ByteCount.parse("0") == nil)
        #expect(ByteCount.parse("-1G") == nil)
        #expect(ByteCount.parse("lots") == nil)
        #expect(ByteCount.parse("9999999T") == nil)
    }

    // MARK: JPEG baseline/extended

    static let grey8 = ImageDescription(rows: 8, columns: 8, samplesPerPixel: 1, bitsAllocated: 8)

    @Test func aScanWithoutComponentsIsRefused() {
        let stream = JPEGStream.baseline(dqt16: false, dcSymbol: 0, acSymbol: 0, scanComponents: 0, entropy: [0])
        #expect {
            try JPEGDCTCodec(.jpegBaseline).decode([stream[...]], image: Self.grey8)
        } throws: { "\($0)".contains("has 0 components") }
    }

    @Test func aDCCategoryPastFifteenIsRefused() {
        let stream = JPEGStream.baseline(
            dqt16: false, dcSymbol: 200, acSymbol: 0, scanComponents: 1, entropy: [UInt8](repeating: 0x7F, count: 40))
        #expect {
            try JPEGDCTCodec(.jpegBaseline).decode([stream[...]], image: Self.grey8)
        } throws: { "\($0)".contains("DC difference category 200") }
    }

    /// 16-bit quantisation values of 65535 times coefficients of 15 bits: the products and the
    /// IDCT's sums leave Int32; the samples come out clamped to 8 bits, nothing traps.
    @Test func hugeQuantisedCoefficientsDecodeClamped() throws {
        // Each coefficient: code 0 (1 bit), then 15 one-bits; 64 of them per block.
        let entropy = [UInt8](repeating: 0, count: 64).flatMap { _ in [0x7F, 0xFF, 0x00] as [UInt8] }
        let stream = JPEGStream.baseline(
            dqt16: true, dcSymbol: 15, acSymbol: 0x0F, scanComponents: 1, entropy: entropy)
        let pixels = try JPEGDCTCodec(.jpegExtended).decode([stream[...]], image: Self.grey8)
        #expect(pixels.count == 64)
    }

    // MARK: JPEG-LS

    /// An oversize-dimension LSE (id 4) gives the frame 70000 x 70000: CharLS 2.4.1 computes
    /// its sizes in 32 bits (GHSA-mqrg-gfc8-73ff). Refused before the 4.9 GB output exists.
    @Test func aJPEGLSFrameWiderThan65535IsRefused() {
        let stream = JPEGStream.jpegLSOversize(width: 70000, height: 70000)
        let image = ImageDescription(rows: 70000, columns: 70000, samplesPerPixel: 1, bitsAllocated: 8)
        #expect {
            try JPEGLSCodec().decode([stream[...]], image: image)
        } throws: { ($0 as? CodecError)?.code == .unsupported && "\($0)".contains("70000x70000") }
        #expect {
            try JPEGLSCodec().decode([stream[...]], image: Self.grey8)
        } throws: { "\($0)".contains("the data set says 8x8") }
    }

    // MARK: JPEG 2000

    /// The first frame of the first corpus file in `ts` with more than `pixels` pixels.
    static func j2kFrame(_ ts: TransferSyntax, pixels: Int = 0) throws -> (stream: [UInt8], image: ImageDescription) {
        for path in try CodecCorpus.files(ts) {
            let file = try Part10Reader.read(path: path)
            let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
            guard image.rows * image.columns > pixels, let frames = try file.dataSet.encapsulatedFrames() else {
                continue
            }
            return (Array(frames[0].joined()), image)
        }
        throw CodecError("no \(ts.name) file of more than \(pixels) pixels in the corpus")
    }

    /// The offset of the first COD's code-block style byte in a codestream.
    static func codStyleOffset(_ s: [UInt8]) throws -> Int {
        let cod = try #require((0..<s.count - 1).first { s[$0] == 0xFF && s[$0 + 1] == 0x52 })
        return cod + 2 + 2 + 1 + 4 + 3
    }

    @Test func truncatedCodestreamsEndCleanly() throws {
        let (stream, image) = try Self.j2kFrame(.jpeg2000Lossless)
        for cut in [stream.count / 2, stream.count - 3, 200] {
            #expect(throws: CodecError.self) { try JPEG2000Codec().decode([stream.prefix(cut)], image: image) }
        }
    }

    /// OpenJPEG 2.5.0 overflows a heap buffer on HT and classic code-blocks in one stream: a
    /// COD asking for the mixed mode, or a COC whose style differs from the COD's, is refused.
    @Test func mixedHTAndClassicCodeBlocksAreRefused() throws {
        let (stream, image) = try Self.j2kFrame(.jpeg2000Lossless)
        let at = try Self.codStyleOffset(stream)
        var mixedMode = stream
        mixedMode[at] |= 0xC0
        #expect {
            try JPEG2000Codec(.htj2kLossless).decode([mixedMode[...]], image: image)
        } throws: { ($0 as? CodecError)?.code == .unsupported && "\($0)".contains("mixed") }
        // A COC for component 0 with HT code-blocks after a classic COD.
        let cod = at - 12
        let codLength = Int(stream[cod + 2]) << 8 | Int(stream[cod + 3])
        let coc: [UInt8] = [
            0xFF, 0x53, 0x00, 0x09, 0x00, 0x00, stream[at - 3], stream[at - 2], stream[at - 1], 0x40, 0x01,
        ]
        let withCOC = Array(stream[..<(cod + 2 + codLength)]) + coc + Array(stream[(cod + 2 + codLength)...])
        #expect {
            try JPEG2000Codec(.htj2kLossless).decode([withCOC[...]], image: image)
        } throws: { "\($0)".contains("mixed") }
        // HT code-blocks under a Part 1 syntax are refused too.
        var ht = stream
        ht[at] |= 0x40
        #expect {
            try JPEG2000Codec(.jpeg2000Lossless).decode([ht[...]], image: image)
        } throws: { "\($0)".contains("HT code-blocks") }
    }

    /// A JP2 file whose header boxes (here a palette) OpenJPEG would apply: Ferry decodes its
    /// codestream alone, to the bare codestream's pixels; the data set says what they are.
    @Test func jp2BoxesAroundTheCodestreamAreNotApplied() throws {
        let (stream, image) = try Self.j2kFrame(.jpeg2000Lossless)
        func box(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let n = UInt32(8 + body.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + Array(type.utf8)
                + body
        }
        // pclr: 2 entries, 3 columns of 8 bits, whose values differ from the stream's.
        let pclr = box("pclr", [0x00, 0x02, 0x03, 0x07, 0x07, 0x07, 1, 2, 3, 4, 5, 6])
        let jp2 =
            box("jP  ", [0x0D, 0x0A, 0x87, 0x0A]) + box("ftyp", Array("jp2 ".utf8) + [0, 0, 0, 0] + Array("jp2 ".utf8))
            + box("jp2h", box("ihdr", [UInt8](repeating: 0, count: 14)) + pclr) + box("jp2c", stream)
        let bare = try JPEG2000Codec().decode([stream[...]], image: image)
        #expect(try JPEG2000Codec().decode([jp2[...]], image: image) == bare)
        #expect {
            try JPEG2000Codec().decode([box("jp2h", [])[...]], image: image)
        } throws: { "\($0)".contains("jp2c") }
    }

    /// Packed headers (PPM) and regions of interest (RGN) are refused before OpenJPEG parses them.
    @Test func packedHeadersAreRefused() throws {
        let (stream, image) = try Self.j2kFrame(.jpeg2000Lossless)
        let cod = try Self.codStyleOffset(stream) - 12
        let ppm: [UInt8] = [0xFF, 0x60, 0x00, 0x05, 0x00, 0x00, 0x00]
        let withPPM = Array(stream[..<cod]) + ppm + Array(stream[cod...])
        #expect {
            try JPEG2000Codec().decode([withPPM[...]], image: image)
        } throws: { ($0 as? CodecError)?.code == .unsupported && "\($0)".contains("packed headers") }
    }

    @Test func aTileGridOfMillionsIsRefused() throws {
        let (stream, image) = try Self.j2kFrame(.jpeg2000Lossless, pixels: 65535)
        let siz = try #require((0..<stream.count - 1).first { stream[$0] == 0xFF && stream[$0 + 1] == 0x51 })
        var tiny = stream
        // XTsiz = YTsiz = 1: one tile per pixel.
        tiny.replaceSubrange((siz + 22)..<(siz + 30), with: [0, 0, 0, 1, 0, 0, 0, 1])
        #expect {
            try JPEG2000Codec().decode([tiny[...]], image: image)
        } throws: { "\($0)".contains("tiles (at most 65535)") }
    }
}

/// Hand-made JPEG and JPEG-LS streams (T.81 B, T.87 C).
enum JPEGStream {
    static func segment(_ marker: UInt8, _ body: [UInt8]) -> [UInt8] {
        let n = body.count + 2
        return [0xFF, marker, UInt8(n >> 8), UInt8(n & 0xFF)] + body
    }

    /// An 8x8 one-component stream whose DC and AC tables each hold one 1-bit code.
    static func baseline(
        dqt16: Bool, dcSymbol: UInt8, acSymbol: UInt8, scanComponents: UInt8, entropy: [UInt8]
    ) -> [UInt8] {
        let dqt = dqt16 ? [0x10] + [UInt8](repeating: 0xFF, count: 128) : [0x00] + [UInt8](repeating: 1, count: 64)
        let oneCode = [1] + [UInt8](repeating: 0, count: 15)
        let sof = segment(0xC0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0])
        let scan: [UInt8] = scanComponents == 0 ? [0, 0, 63, 0] : [1, 1, 0x00, 0, 63, 0]
        return [0xFF, 0xD8] + segment(0xDB, dqt) + sof + segment(0xC4, [0x00] + oneCode + [dcSymbol])
            + segment(0xC4, [0x10] + oneCode + [acSymbol]) + segment(0xDA, scan) + entropy + [0xFF, 0xD9]
    }

    /// A JPEG-LS frame of 0 x 0 with an LSE oversize-dimension segment (id 4, 4-byte sizes).
    static func jpegLSOversize(width: UInt32, height: UInt32) -> [UInt8] {
        func be32(_ v: UInt32) -> [UInt8] {
            [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        return [0xFF, 0xD8] + segment(0xF7, [8, 0, 0, 0, 0, 1, 1, 0x11, 0])
            + segment(0xF8, [4, 4] + be32(height) + be32(width)) + segment(0xDA, [1, 1, 0, 0, 0, 0])
            + [UInt8](repeating: 0, count: 64) + [0xFF, 0xD9]
    }
}
