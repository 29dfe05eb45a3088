import FerryCodecs
import FerryDICOM

/// The image a codec target decodes for: read from the input's first bytes.
enum FuzzImage {
    static func read(_ input: inout FuzzInput, maxSide: Int, bits: [Int] = [8, 16]) -> ImageDescription {
        let rows = input.int(1...maxSide), columns = input.int(1...maxSide)
        let samples = input.bool() ? 3 : 1
        let allocated = bits[input.int(0...bits.count - 1)]
        return ImageDescription(
            rows: rows, columns: columns, samplesPerPixel: samples, bitsAllocated: allocated,
            planarConfiguration: input.bool() ? 1 : 0, isSigned: input.bool())
    }

    /// The bytes `read` turns back into `image` (for seeds made from corpus frames).
    static func bytes(_ image: ImageDescription, maxSide: Int, bits: [Int] = [8, 16]) -> [UInt8] {
        func int(_ v: Int, _ lower: Int) -> [UInt8] { [UInt8((v - lower) >> 8 & 0xFF), UInt8((v - lower) & 0xFF)] }
        return int(min(image.rows, maxSide), 1) + int(min(image.columns, maxSide), 1)
            + [image.samplesPerPixel == 3 ? 1 : 0] + int(bits.firstIndex(of: image.bitsAllocated) ?? 0, 0)
            + [UInt8(image.planarConfiguration & 1), image.isSigned ? 1 : 0]
    }
}

/// A codec target: byte 0 chooses a frame taken as it is (even: corpus seeds) or one built
/// with valid markers and headers around the input's contents (odd); then the image; then
/// the frame, split into up to three fragments.
struct CodecTarget {
    let maxSide: Int
    let bits: [Int]
    /// The codec, given one choice bit (two syntaxes or decoders of one family).
    let codec: @Sendable (Bool) -> any PixelCodec
    let build: @Sendable (inout FuzzInput, ImageDescription) -> [UInt8]
    var check: @Sendable (any PixelCodec, [UInt8], ImageDescription) -> Void = { _, _, _ in }

    func run(_ bytes: [UInt8]) {
        var input = FuzzInput(bytes)
        let built = input.byte() & 1 == 1
        var image = FuzzImage.read(&input, maxSide: maxSide, bits: bits)
        if built {
            // Built frames stay small (what they exercise is the stream, not the size).
            image.rows = (image.rows - 1) % 64 + 1
            image.columns = (image.columns - 1) % 64 + 1
        }
        let chosen = codec(input.bool())
        // As `ferry` decodes: in a decoder process for the C libraries when one is set up.
        let codec = Codecs.codec(for: chosen.transferSyntax).flatMap { $0.decodesInCLibrary ? $0 : nil } ?? chosen
        let frame = built ? build(&input, image) : input.rest
        let cut1 = frame.isEmpty ? 0 : Int(input.byte()) % (frame.count + 1)
        let fragments = cut1 == 0 ? [frame[...]] : [frame[..<cut1], frame[cut1...]]
        do {
            let decoded = try codec.decode(fragments, image: image)
            guard decoded.count == image.frameLength else {
                fatalError("\(codec.transferSyntax.name) decoded \(decoded.count) bytes for \(image)")
            }
            check(codec, decoded, image)
        } catch  where error.message.contains("decoder process: ended by") || error.message.contains("exited with") {
            // A decoder process that dies (a library crash, AddressSanitizer's report in it)
            // is a finding, as a crash in this process would be.
            fatalError("\(error)")
        } catch {}
    }

    /// A seed: `frame` as it is, for `image`.
    func seed(frame: [UInt8], image: ImageDescription, codecChoice: UInt8 = 0) -> [UInt8] {
        [0] + FuzzImage.bytes(image, maxSide: maxSide, bits: bits) + [codecChoice] + frame
    }

    /// Seeds built from a few parameter sets.
    func builtSeeds() -> [[UInt8]] {
        (0..<8).map { i in [1] + (0..<64).map { UInt8(truncatingIfNeeded: $0 * 37 + i * 11 + 3) } }
    }
}

/// JPEG marker segments and entropy-coded data with 0xFF stuffed (T.81 B.1.1.5).
enum JPEGBytes {
    static func segment(_ marker: UInt8, _ body: [UInt8]) -> [UInt8] {
        [0xFF, marker, UInt8((body.count + 2) >> 8 & 0xFF), UInt8((body.count + 2) & 0xFF)] + body
    }
    static func stuffed(_ data: [UInt8]) -> [UInt8] { data.flatMap { $0 == 0xFF ? [0xFF, 0x00] : [$0] } }
    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    /// A Huffman table whose code counts and values come from the input.
    static func huffman(_ input: inout FuzzInput, classAndID: UInt8, values: Int) -> [UInt8] {
        let counts = (0..<16).map { i in UInt8(i < 8 ? input.int(0...3) : input.int(0...1)) }
        let total = counts.reduce(0) { $0 + Int($1) }
        return [classAndID] + counts + (0..<total).map { _ in UInt8(input.int(0...values)) }
    }
}

extension FuzzTarget {
    public static let reader = FuzzTarget(
        name: "reader", summary: "Part 10 reader, header scan, dump, writer, offset tables",
        seeds: { [Array("DICM".utf8), [0x08, 0x00, 0x05, 0x00, 0x43, 0x53, 0x0A, 0x00]] }
    ) { bytes in
        var options = ReadOptions()
        options.maxInflatedSize = 8 << 20
        if let file = try? Part10Reader.read(bytes: bytes, options: options) {
            _ = DataSetDump(maxValues: 4).lines(file)
            if let pixels = try? PixelAttributes(file.dataSet),
                case .encapsulated(let e)? = file.dataSet[.pixelData]?.value
            {
                _ = try? e.frames(numberOfFrames: pixels.numberOfFrames)
            }
            _ = try? DataSetWriter(encoding: .explicitLittle).encode(file.dataSet)
        }
        _ = try? HeaderScan.summary(prefix: bytes, fileSize: bytes.count, path: "fuzz", options: options)
        _ = try? HeaderScan.summary(
            prefix: Array(bytes.prefix(bytes.count / 2)), fileSize: bytes.count, path: "fuzz", options: options)
    }

    static let rleTarget = CodecTarget(
        maxSide: 1024, bits: [8, 16, 32], codec: { _ in RLECodec() },
        build: { input, image in
            let planes = image.samplesPerPixel * image.bitsAllocated / 8
            let segments = input.bool() ? planes : input.int(0...15)
            let contents = input.rest
            let lengths = (0..<segments).map { _ in input.int(0...max(0, contents.count)) }
            var header: [UInt8] = []
            func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
            header += le32(segments)
            var offset = 64
            for i in 0..<15 {
                header += le32(i < segments ? offset : (input.bool() ? 0 : input.int(0...70000)))
                if i < segments { offset += lengths[i] }
            }
            return header + contents
        },
        check: { codec, decoded, image in
            // A frame that decodes must encode and decode back to itself.
            guard let encoded = try? codec.encode(decoded[...], image: image),
                let again = try? codec.decode([encoded[...]], image: image), again == decoded
            else { fatalError("RLE round trip failed for \(image)") }
        })

    public static let rle = FuzzTarget(
        name: "rle", summary: "RLE Lossless decoder (PS3.5 G), round trip of what decodes",
        seeds: { rleTarget.builtSeeds() }, run: { rleTarget.run($0) })

    static let jpegLosslessTarget = CodecTarget(
        maxSide: 1024, bits: [8, 16],
        codec: { sv1 in JPEGLosslessCodec(sv1 ? .jpegLosslessSV1 : .jpegLosslessProcess14) },
        build: { input, image in
            var s: [UInt8] = [0xFF, 0xD8]
            s += JPEGBytes.segment(0xC4, JPEGBytes.huffman(&input, classAndID: 0x00, values: 16))
            let precision = input.int(2...image.bitsAllocated)
            var sof = [UInt8(precision)] + JPEGBytes.u16(image.rows) + JPEGBytes.u16(image.columns)
            sof += [UInt8(image.samplesPerPixel)]
            for c in 0..<image.samplesPerPixel { sof += [UInt8(c + 1), 0x11, 0] }
            s += JPEGBytes.segment(0xC3, sof)
            if input.bool() { s += JPEGBytes.segment(0xDD, JPEGBytes.u16(input.int(0...64))) }
            var sos = [UInt8(image.samplesPerPixel)]
            for c in 0..<image.samplesPerPixel { sos += [UInt8(c + 1), 0x00] }
            sos += [UInt8(input.int(0...8)), 0, UInt8(input.int(0...15))]
            s += JPEGBytes.segment(0xDA, sos)
            return s + JPEGBytes.stuffed(input.rest) + [0xFF, 0xD9]
        })

    public static let jpegLossless = FuzzTarget(
        name: "jpeg-lossless", summary: "JPEG lossless process 14 / SV1 decoder",
        seeds: { jpegLosslessTarget.builtSeeds() }, run: { jpegLosslessTarget.run($0) })

    static let jpegDCTTarget = CodecTarget(
        maxSide: 1024, bits: [8, 16], codec: { baseline in JPEGDCTCodec(baseline ? .jpegBaseline : .jpegExtended) },
        build: { input, image in
            var s: [UInt8] = [0xFF, 0xD8]
            let wide = input.bool()
            s += JPEGBytes.segment(0xDB, [wide ? 0x10 : 0x00] + input.bytes(wide ? 128 : 64))
            s += JPEGBytes.segment(0xC4, JPEGBytes.huffman(&input, classAndID: 0x00, values: 15))
            s += JPEGBytes.segment(0xC4, JPEGBytes.huffman(&input, classAndID: 0x10, values: 255))
            let precision = image.bitsAllocated == 8 ? 8 : 12
            var sof = [UInt8(precision)] + JPEGBytes.u16(image.rows) + JPEGBytes.u16(image.columns)
            sof += [UInt8(image.samplesPerPixel)]
            for c in 0..<image.samplesPerPixel {
                sof += [UInt8(c + 1), UInt8(input.int(1...2) << 4 | input.int(1...2)), 0]
            }
            s += JPEGBytes.segment(precision == 8 ? 0xC0 : 0xC1, sof)
            if input.bool() { s += JPEGBytes.segment(0xDD, JPEGBytes.u16(input.int(0...16))) }
            let scanned = input.bool() ? 1 : image.samplesPerPixel
            var sos = [UInt8(scanned)]
            for c in 0..<scanned { sos += [UInt8(c + 1), 0x00] }
            s += JPEGBytes.segment(0xDA, sos + [0, 63, 0])
            return s + JPEGBytes.stuffed(input.rest) + [0xFF, 0xD9]
        })

    public static let jpegDCT = FuzzTarget(
        name: "jpeg-dct", summary: "JPEG baseline and extended (8/12-bit) decoder",
        seeds: { jpegDCTTarget.builtSeeds() }, run: { jpegDCTTarget.run($0) })

    static let jpegLSTarget = CodecTarget(
        maxSide: 1024, bits: [8, 16], codec: { _ in JPEGLSCodec() },
        build: { input, image in
            var s: [UInt8] = [0xFF, 0xD8]
            let precision = input.int(2...image.bitsAllocated)
            var sof = [UInt8(precision)] + JPEGBytes.u16(image.rows) + JPEGBytes.u16(image.columns)
            sof += [UInt8(image.samplesPerPixel)]
            for c in 0..<image.samplesPerPixel { sof += [UInt8(c + 1), 0x11, 0] }
            s += JPEGBytes.segment(0xF7, sof)
            if input.bool() {  // LSE preset coding parameters (T.87 C.2.4.1.1)
                s += JPEGBytes.segment(0xF8, [1] + input.bytes(10))
            }
            let interleave = image.samplesPerPixel == 1 ? 0 : input.int(0...2)
            let scans = interleave == 0 ? image.samplesPerPixel : 1
            for scan in 0..<scans {
                let components = interleave == 0 ? [scan] : Array(0..<image.samplesPerPixel)
                var sos = [UInt8(components.count)]
                for c in components { sos += [UInt8(c + 1), 0] }
                s += JPEGBytes.segment(0xDA, sos + [UInt8(input.int(0...4)), UInt8(interleave), 0])
                s += input.bytes(input.int(0...256))
            }
            return s + input.rest + [0xFF, 0xD9]
        })

    public static let jpegLS = FuzzTarget(
        name: "jpeg-ls", summary: "JPEG-LS decoder (CharLS 2.4.1 behind Ferry's header checks)",
        seeds: { jpegLSTarget.builtSeeds() }, run: { jpegLSTarget.run($0) })

    static let jpeg2000Target = CodecTarget(
        maxSide: 1024, bits: [8, 16],
        codec: { part1 in JPEG2000Codec(part1 ? .jpeg2000Lossless : .htj2kLossless) },
        build: { input, image in
            func u32(_ v: Int) -> [UInt8] { JPEGBytes.u16(v >> 16) + JPEGBytes.u16(v & 0xFFFF) }
            var s: [UInt8] = [0xFF, 0x4F]
            var siz = JPEGBytes.u16(0) + u32(image.columns) + u32(image.rows) + u32(0) + u32(0)
            siz += u32(input.int(1...image.columns)) + u32(input.int(1...image.rows)) + u32(0) + u32(0)
            siz += JPEGBytes.u16(image.samplesPerPixel)
            for _ in 0..<image.samplesPerPixel {
                siz += [UInt8(input.int(0...image.bitsAllocated - 1)) | (image.isSigned ? 0x80 : 0), 1, 1]
            }
            s += JPEGBytes.segment(0x51, siz)
            let levels = input.int(0...5)
            let style = input.byte() & 0x7F
            s += JPEGBytes.segment(
                0x52,
                [input.byte() & 7, UInt8(input.int(0...4))] + JPEGBytes.u16(input.int(1...3))
                    + [image.samplesPerPixel == 3 && input.bool() ? 1 : 0, UInt8(levels)]
                    + [UInt8(input.int(0...4)), UInt8(input.int(0...4)), style, UInt8(input.int(0...1))])
            s += JPEGBytes.segment(0x5C, [input.byte() & 0xE0] + input.bytes(3 * levels + 1))
            // One tile-part running to EOC (Psot 0).
            s += JPEGBytes.segment(0x90, JPEGBytes.u16(0) + u32(0) + [0, 1])
            return s + [0xFF, 0x93] + input.rest + [0xFF, 0xD9]
        })

    public static let jpeg2000 = FuzzTarget(
        name: "jpeg2000", summary: "JPEG 2000 / HTJ2K (OpenJPEG 2.5.0 behind Ferry's marker checks)",
        seeds: { jpeg2000Target.builtSeeds() }, run: { jpeg2000Target.run($0) })

    /// A seed for the codec target of `ts`: a corpus frame as it is.
    public static func seed(for ts: TransferSyntax, frame: [UInt8], image: ImageDescription) -> (String, [UInt8])? {
        switch ts {
        case .rleLossless: ("rle", rleTarget.seed(frame: frame, image: image))
        case .jpegLosslessProcess14, .jpegLosslessSV1:
            ("jpeg-lossless", jpegLosslessTarget.seed(frame: frame, image: image))
        case .jpegBaseline, .jpegExtended: ("jpeg-dct", jpegDCTTarget.seed(frame: frame, image: image))
        case .jpegLSLossless, .jpegLSNearLossless: ("jpeg-ls", jpegLSTarget.seed(frame: frame, image: image))
        case .jpeg2000Lossless, .jpeg2000: ("jpeg2000", jpeg2000Target.seed(frame: frame, image: image, codecChoice: 1))
        case .htj2kLossless, .htj2kLosslessRPCL, .htj2k:
            ("jpeg2000", jpeg2000Target.seed(frame: frame, image: image, codecChoice: 0))
        default: nil
        }
    }
}
