import FerryDICOM
import Glibc

/// JPEG Baseline (1.2.840.10008.1.2.4.50) and Extended (4.51), the sequential DCT processes
/// with Huffman coding, in Swift: one decoder for 8- and 12-bit streams (Debian's libjpeg-turbo
/// has no 12-bit mode, and libjpeg reports errors by longjmp, which Swift cannot survive).
/// Decoding: interleaved or one-component scans, any sampling factors up to 4, restart
/// intervals; colour streams of a YBR data set are converted to RGB, as DCMTK's dcmdjpeg does.
/// Encoding (8-bit, lossy: only when the policy allows it): quality-scaled T.81 K.1 tables,
/// Huffman tables optimised for the image (K.2), colour as YBR_FULL without subsampling; SOF0
/// for 4.50, SOF1 (extended sequential, same coding for 8-bit data) for 4.51.
public struct JPEGDCTCodec: PixelCodec {
    public let transferSyntax: TransferSyntax
    /// IJG-style quality (1-100) of encodings.
    public var quality = 90
    public init(_ ts: TransferSyntax = .jpegBaseline) { transferSyntax = ts }

    public var canEncode: Bool { transferSyntax == .jpegBaseline || transferSyntax == .jpegExtended }
    public var lossyMethod: String? { "ISO_10918_1" }

    public func photometricAfterDecoding(_ image: ImageDescription) -> String {
        image.samplesPerPixel == 3 && image.photometric.hasPrefix("YBR") ? "RGB" : image.photometric
    }

    public func photometricAfterEncoding(_ image: ImageDescription) -> String {
        image.samplesPerPixel == 3 ? "YBR_FULL" : image.photometric
    }

    static let zigzag: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
        21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
        47, 55, 62, 63,
    ]
    /// cos((2x+1)uπ/16) * C(u) / 2, indexed [u * 8 + x].
    static let basis: [Double] = (0..<64).map { i in
        let u = i / 8, x = i % 8
        return (u == 0 ? 1 / 2.0.squareRoot() : 1) * cos(Double((2 * x + 1) * u) * Double.pi / 16) / 2
    }

    struct Component {
        var id: Int, h: Int, v: Int, tq: Int
        var blocksPerLine = 0, blocksPerColumn = 0
        var plane: [Int32] = []
        var dcTable = 0, acTable = 0, predictor = 0
    }

    // MARK: Decoding

    /// The frame header (SOF0/SOF1) and the coefficient planes its scans fill.
    private struct Frame {
        var components: [Component] = []
        var precision = 0, width = 0, height = 0, hmax = 1, vmax = 1, mcusX = 0, mcusY = 0
    }

    /// The tables in force: DQT, DHT and DRI segments may come before any scan or between scans.
    private struct Tables {
        var quant = [[Int32]](repeating: [], count: 4)
        var dc: [Int: Huffman] = [:], ac: [Int: Huffman] = [:]
        var restartInterval = 0
    }

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        let data: [UInt8] = fragments.count == 1 ? Array(fragments[0]) : fragments.flatMap { $0 }
        guard let frameLength = image.frameLength else {
            throw CodecError("JPEG: image size overflows", code: .mismatch)
        }
        var r = Reader(data: data, label: "JPEG")
        guard r.u8() == 0xFF, r.u8() == 0xD8 else { throw CodecError("JPEG: no SOI marker") }
        var frame = Frame()
        var tables = Tables()
        var scans = 0
        while true {
            let marker = try r.marker()
            switch marker {
            case 0xC0, 0xC1:
                guard frame.components.isEmpty else { throw CodecError("JPEG: more than one frame header") }
                frame = try readFrameHeader(&r, image: image)
            case 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                throw CodecError(
                    "JPEG: SOF marker 0xFF\(String(marker, radix: 16, uppercase: true)) is not a sequential Huffman DCT process (baseline or extended)"
                )
            case 0xDB:
                try readQuantizationTables(&r, into: &tables.quant)
            case 0xC4:
                try readHuffmanTables(&r, into: &tables)
            case 0xDD:
                _ = try r.u16()
                tables.restartInterval = try r.u16()
            case 0xDA:
                let scan = try readScanHeader(&r, components: &frame.components, tables: tables)
                try readScanData(scan, &r, frame: &frame, tables: tables)
                scans += 1
            case 0xD9:
                guard scans > 0 else { throw CodecError("JPEG: end of image before any scan") }
                return output(
                    frame.components, precision: frame.precision, width: frame.width, height: frame.height,
                    hmax: frame.hmax, vmax: frame.vmax, image: image, frameLength: frameLength)
            default:
                let length = try r.u16()
                guard length >= 2, r.pos + length - 2 <= data.count else {
                    throw CodecError("JPEG: marker segment runs past the end")
                }
                r.pos += length - 2
            }
            guard r.pos < data.count else {
                guard scans > 0 else { throw CodecError("JPEG: stream ends before any scan") }
                // A missing EOI after complete scans is tolerated, as libjpeg does (with a warning).
                return output(
                    frame.components, precision: frame.precision, width: frame.width, height: frame.height,
                    hmax: frame.hmax, vmax: frame.vmax, image: image, frameLength: frameLength)
            }
        }
    }

    /// SOF0/SOF1: precision, size and components, checked against the data set, and the
    /// coefficient planes, allocated in whole MCUs.
    private func readFrameHeader(_ r: inout Reader, image: ImageDescription) throws(CodecError) -> Frame {
        let length = try r.u16() - 2
        let end = r.pos + length
        let precision = try r.byte(), height = try r.u16(), width = try r.u16()
        let count = try r.byte()
        guard precision == 8 || precision == 12 else {
            throw CodecError("JPEG: precision \(precision) (8 or 12 for the DCT processes)", code: .unsupported)
        }
        guard width == image.columns, height == image.rows, count == image.samplesPerPixel else {
            throw CodecError(
                "JPEG: the stream is \(width)x\(height)x\(count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)"
            )
        }
        guard precision <= image.bitsAllocated else {
            throw CodecError(
                "JPEG: precision \(precision) does not fit Bits Allocated \(image.bitsAllocated)",
                code: .mismatch)
        }
        var components: [Component] = []
        for _ in 0..<count {
            let id = try r.byte(), sampling = try r.byte(), tq = try r.byte()
            let h = sampling >> 4, v = sampling & 15
            guard (1...4).contains(h), (1...4).contains(v), tq < 4 else {
                throw CodecError("JPEG: component \(id): sampling \(h)x\(v), table \(tq)")
            }
            components.append(Component(id: id, h: h, v: v, tq: tq))
        }
        r.pos = end
        let hmax = components.map(\.h).max() ?? 1
        let vmax = components.map(\.v).max() ?? 1
        let mcusX = (width + 8 * hmax - 1) / (8 * hmax)
        let mcusY = (height + 8 * vmax - 1) / (8 * vmax)
        for i in components.indices {
            components[i].blocksPerLine = mcusX * components[i].h
            components[i].blocksPerColumn = mcusY * components[i].v
            components[i].plane = [Int32](
                repeating: 0, count: components[i].blocksPerLine * components[i].blocksPerColumn * 64)
        }
        return Frame(
            components: components, precision: precision, width: width, height: height, hmax: hmax, vmax: vmax,
            mcusX: mcusX, mcusY: mcusY)
    }

    /// DQT: 8- or 16-bit tables, in zigzag order.
    private func readQuantizationTables(_ r: inout Reader, into quant: inout [[Int32]]) throws(CodecError) {
        let length = try r.u16() - 2
        let end = r.pos + length
        while r.pos < end {
            let pq = try r.byte()
            guard pq & 15 < 4 else { throw CodecError("JPEG: quantization table id \(pq & 15)") }
            var table = [Int32](repeating: 0, count: 64)
            for k in 0..<64 { table[k] = Int32(pq >> 4 == 0 ? try r.byte() : try r.u16()) }
            quant[pq & 15] = table
        }
        r.pos = end
    }

    /// DHT: DC (class 0) and AC (class 1) tables.
    private func readHuffmanTables(_ r: inout Reader, into tables: inout Tables) throws(CodecError) {
        for (tc, table) in try r.huffmanTables() {
            if tc >> 4 == 0 { tables.dc[tc & 15] = table } else { tables.ac[tc & 15] = table }
        }
    }

    /// SOS: the scan's components (indices into `components`, whose DC and AC table choices it
    /// sets). Sequential scans only; every table the scan uses must be defined by now.
    private func readScanHeader(
        _ r: inout Reader, components: inout [Component], tables: Tables
    ) throws(CodecError) -> [Int] {
        guard !components.isEmpty else { throw CodecError("JPEG: SOS before SOF") }
        let length = try r.u16() - 2
        let end = r.pos + length
        let ns = try r.byte()
        guard (1...4).contains(ns), ns <= components.count else {
            throw CodecError("JPEG: scan header at \(r.pos - 5) has \(ns) components")
        }
        var scan: [Int] = []
        for _ in 0..<ns {
            let id = try r.byte(), selectors = try r.byte()  // Td, Ta
            guard let c = components.firstIndex(where: { $0.id == id }), !scan.contains(c) else {
                throw CodecError("JPEG: scan names unknown or repeated component \(id)")
            }
            components[c].dcTable = selectors >> 4
            components[c].acTable = selectors & 15
            scan.append(c)
        }
        let ss = try r.byte(), se = try r.byte(), _ = try r.byte()
        guard ss == 0, se == 63 else {
            throw CodecError("JPEG: spectral selection \(ss)-\(se) (not sequential)")
        }
        r.pos = end
        for c in scan {
            guard tables.quant[components[c].tq].count == 64 else {
                throw CodecError("JPEG: missing quantization table \(components[c].tq)")
            }
            guard tables.dc[components[c].dcTable] != nil, tables.ac[components[c].acTable] != nil else {
                throw CodecError("JPEG: missing Huffman table for component \(components[c].id)")
            }
        }
        return scan
    }

    /// The scan's entropy-coded data, into the frame's planes.
    private func readScanData(_ scan: [Int], _ r: inout Reader, frame: inout Frame, tables: Tables) throws(CodecError) {
        let data = r.data, start = r.pos, label = r.label
        var p = try data.withUnsafeBufferPointer { (buffer) throws(CodecError) -> Int in
            var bits = BitReader(data: buffer, pos: start, label: label)
            try decodeScan(
                &bits, scan: scan, components: &frame.components, quant: tables.quant, dc: tables.dc, ac: tables.ac,
                restartInterval: tables.restartInterval,
                mcusX: frame.mcusX, mcusY: frame.mcusY, width: frame.width, height: frame.height, hmax: frame.hmax,
                vmax: frame.vmax)
            return bits.pos
        }
        // Continue after the entropy-coded data: the next marker that is not RSTn.
        while p + 1 < data.count, !(data[p] == 0xFF && data[p + 1] != 0 && !(0xD0...0xD7).contains(data[p + 1])) {
            p += 1
        }
        r.pos = p + 1 < data.count ? p : data.count
    }

    private func decodeScan(
        _ bits: inout BitReader, scan: [Int], components: inout [Component], quant: [[Int32]], dc: [Int: Huffman],
        ac: [Int: Huffman],
        restartInterval: Int, mcusX: Int, mcusY: Int, width: Int, height: Int, hmax: Int, vmax: Int
    ) throws(CodecError) {
        for c in scan { components[c].predictor = 0 }
        var coefficients = [Int32](repeating: 0, count: 64)
        var samples = [Int32](repeating: 0, count: 64)
        func block(_ c: Int, row: Int, column: Int) throws(CodecError) {
            guard let dcTable = dc[components[c].dcTable], let acTable = ac[components[c].acTable] else { return }
            let q = quant[components[c].tq]
            for i in 0..<64 { coefficients[i] = 0 }
            // A DC category is at most 15 (T.81 F.1.2.1; libjpeg refuses larger symbols in a DC
            // table): a larger one is a corrupt stream, not a wider number.
            let category = try bits.symbol(dcTable)
            guard category <= 15 else {
                throw CodecError("JPEG: DC difference category \(category) (at most 15)")
            }
            components[c].predictor += try bits.received(category)
            coefficients[0] = Int32(truncatingIfNeeded: components[c].predictor) &* q[0]
            var k = 1
            while k < 64 {
                let rs = try bits.symbol(acTable)
                let run = rs >> 4, size = rs & 15
                if size == 0 {
                    if run == 15 { k += 16; continue }
                    break
                }
                k += run
                guard k < 64 else { throw CodecError("JPEG: coefficient index past 63 (corrupt data)") }
                coefficients[Self.zigzag[k]] = Int32(truncatingIfNeeded: try bits.received(size)) &* q[k]
                k += 1
            }
            Self.inverseDCT(coefficients, into: &samples)
            let stride = components[c].blocksPerLine * 8
            guard row < components[c].blocksPerColumn, column < components[c].blocksPerLine else { return }
            let origin = row * 8 * stride + column * 8
            for y in 0..<8 { for x in 0..<8 { components[c].plane[origin + y * stride + x] = samples[y * 8 + x] } }
        }
        let single = scan.count == 1
        // A one-component scan covers only that component's own blocks (T.81 A.2.2).
        let c0 = scan[0]
        let singleX = single ? ((width * components[c0].h + hmax - 1) / hmax + 7) / 8 : mcusX
        let singleY = single ? ((height * components[c0].v + vmax - 1) / vmax + 7) / 8 : mcusY
        let total = single ? singleX * singleY : mcusX * mcusY
        var left = restartInterval
        for mcu in 0..<total {
            if restartInterval > 0 {
                if left == 0 {
                    try bits.restart()
                    for c in scan { components[c].predictor = 0 }
                    left = restartInterval
                }
                left -= 1
            }
            if single {
                try block(c0, row: mcu / singleX, column: mcu % singleX)
            } else {
                let my = mcu / mcusX, mx = mcu % mcusX
                for c in scan {
                    for v in 0..<components[c].v {
                        for h in 0..<components[c].h {
                            try block(c, row: my * components[c].v + v, column: mx * components[c].h + h)
                        }
                    }
                }
            }
        }
    }

    /// Separable float IDCT (T.81 A.3.3); the result is rounded, not yet level-shifted.
    static func inverseDCT(_ f: [Int32], into out: inout [Int32]) {
        var temp = [Double](repeating: 0, count: 64)
        for y in 0..<8 {
            for x in 0..<8 {
                var sum = 0.0
                for u in 0..<8 where f[y * 8 + u] != 0 { sum += Double(f[y * 8 + u]) * basis[u * 8 + x] }
                temp[y * 8 + x] = sum
            }
        }
        for x in 0..<8 {
            for y in 0..<8 {
                var sum = 0.0
                for v in 0..<8 { sum += temp[v * 8 + x] * basis[v * 8 + y] }
                // Huge quantisation values of a corrupt stream must not trap: samples are
                // clamped to the precision later, so any bound past it is as good.
                out[y * 8 + x] = Int32(max(-1e9, min(1e9, sum)).rounded())
            }
        }
    }

    private func output(
        _ components: [Component], precision: Int, width: Int, height: Int, hmax: Int, vmax: Int,
        image: ImageDescription, frameLength: Int
    ) -> [UInt8] {
        let shift = Int32(1 << (precision - 1)), top = Int32((1 << precision) - 1)
        let nc = components.count, pixels = width * height
        let convert = nc == 3 && image.photometric.hasPrefix("YBR")
        // Full-resolution, level-shifted, range-limited planes. Horizontally halved chroma
        // (4:2:2) is upsampled with libjpeg's "fancy" triangle filter, as DCMTK's decoder does;
        // other factors by replication.
        let full: [[Int32]] = components.map { c in
            var plane = [Int32](repeating: 0, count: pixels)
            let stride = c.blocksPerLine * 8
            if c.h * 2 == hmax && c.v == vmax {
                let w = (width * c.h + hmax - 1) / hmax
                for y in 0..<height {
                    let row = y * stride
                    func at(_ i: Int) -> Int32 { max(0, min(top, c.plane[row + i] + shift)) }
                    for i in 0..<w {
                        let v = at(i)
                        let left = i > 0 ? at(i - 1) : v, right = i < w - 1 ? at(i + 1) : v
                        let a = i == 0 ? v : (3 * v + left + 1) >> 2
                        let b = i == w - 1 ? v : (3 * v + right + 2) >> 2
                        if 2 * i < width { plane[y * width + 2 * i] = a }
                        if 2 * i + 1 < width { plane[y * width + 2 * i + 1] = b }
                    }
                }
            } else {
                for y in 0..<height {
                    for x in 0..<width {
                        plane[y * width + x] = max(
                            0, min(top, c.plane[(y * c.v / vmax) * stride + x * c.h / hmax] + shift))
                    }
                }
            }
            return plane
        }
        var out = [UInt8](repeating: 0, count: frameLength)
        let bytes = image.bitsAllocated / 8
        func put(_ value: Int32, _ p: Int, _ c: Int) {
            let v = max(0, min(top, value))
            let o = image.planarConfiguration == 1 && nc > 1 ? c * pixels + p : p * nc + c
            if bytes == 1 {
                out[o] = UInt8(truncatingIfNeeded: v)
            } else {
                out[2 * o] = UInt8(truncatingIfNeeded: v)
                out[2 * o + 1] = UInt8(truncatingIfNeeded: v >> 8)
            }
        }
        for p in 0..<pixels {
            if convert {
                // JFIF YCbCr -> RGB, full range.
                let yy = Double(full[0][p]), cb = Double(full[1][p] - shift), cr = Double(full[2][p] - shift)
                put(Int32((yy + 1.402 * cr).rounded()), p, 0)
                put(Int32((yy - 0.344136 * cb - 0.714136 * cr).rounded()), p, 1)
                put(Int32((yy + 1.772 * cb).rounded()), p, 2)
            } else {
                for c in 0..<nc { put(full[c][p], p, c) }
            }
        }
        return out
    }

    // MARK: Encoding

    /// T.81 K.1 tables, in zigzag order.
    static let luminance: [Int] = [
        16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51,
        61, 60, 57, 51,
        56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103, 62, 77, 113, 121, 112,
        100, 120, 92, 101, 103, 99,
    ]
    static let chrominance: [Int] = [
        17, 18, 18, 24, 21, 24, 47, 26, 26, 47, 99, 66, 56, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99,
    ]

    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        try checkEncodable(frame, image: image)
        let nc = image.samplesPerPixel
        let q = max(1, min(100, quality))
        let scale = q < 50 ? 5000 / q : 200 - 2 * q
        let tables = [Self.luminance, Self.chrominance].map { $0.map { max(1, min(255, ($0 * scale + 50) / 100)) } }
        let planes = Self.levelShiftedPlanes(frame, image: image)
        let blocks = Self.quantizedBlocks(planes, width: image.columns, height: image.rows, tables: tables)
        // Symbols, to build optimal tables (class 0/1, table 0 for luminance, 1 for chrominance).
        var dcFreq = [[Int]](repeating: [Int](repeating: 0, count: 17), count: 2)
        var acFreq = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 2)
        Self.walk(blocks) { t, isDC, symbol, _, _ in
            if isDC { dcFreq[t][symbol] += 1 } else { acFreq[t][symbol] += 1 }
        }
        let dcTables = (0..<min(nc, 2)).map { HuffmanBuilder.optimal(dcFreq[$0]) }
        let acTables = (0..<min(nc, 2)).map { HuffmanBuilder.optimal(acFreq[$0]) }
        var out = headers(image, quantization: tables, dc: dcTables, ac: acTables)
        var writer = BitWriter()
        Self.walk(blocks) { t, isDC, symbol, extra, size in
            let table = isDC ? dcTables[t] : acTables[t]
            writer.write(table.codes[symbol], length: table.lengths[symbol])
            if size > 0 { writer.write((extra > 0 ? extra : extra - 1) & ((1 << size) - 1), length: size) }
        }
        out += writer.finish()
        out += [0xFF, 0xD9]
        return out
    }

    /// What this encoder writes: baseline or extended, 8-bit unsigned, 1 or 3 samples per pixel,
    /// at most 65535 a side (the frame header's fields), a whole frame.
    private func checkEncodable(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) {
        guard canEncode else {
            throw CodecError(
                "JPEG: encoding \(transferSyntax.name) is not supported (8-bit baseline and extended only)",
                code: .unsupported)
        }
        guard image.bitsAllocated == 8, image.bitsStored <= 8, !image.isSigned else {
            throw CodecError("JPEG: 8-bit unsigned samples only (Bits Stored \(image.bitsStored))", code: .unsupported)
        }
        guard image.samplesPerPixel == 1 || image.samplesPerPixel == 3 else {
            throw CodecError("JPEG: \(image.samplesPerPixel) samples per pixel", code: .unsupported)
        }
        guard image.rows <= 65535, image.columns <= 65535 else {
            throw CodecError("JPEG: image larger than 65535", code: .unsupported)
        }
        guard let frameLength = image.frameLength, frame.count >= frameLength else {
            throw CodecError("JPEG: frame shorter than the image", code: .mismatch)
        }
    }

    /// Component samples, level-shifted; colour goes to YCbCr (JFIF).
    private static func levelShiftedPlanes(_ frame: ArraySlice<UInt8>, image: ImageDescription) -> [[Double]] {
        let nc = image.samplesPerPixel, pixels = image.columns * image.rows
        var planes = [[Double]](repeating: [Double](repeating: 0, count: pixels), count: nc)
        let base = frame.startIndex
        for p in 0..<pixels {
            func s(_ c: Int) -> Double {
                Double(frame[base + (image.planarConfiguration == 1 && nc > 1 ? c * pixels + p : p * nc + c)])
            }
            if nc == 3 && image.photometric == "RGB" {
                let r = s(0), g = s(1), b = s(2)
                planes[0][p] = 0.299 * r + 0.587 * g + 0.114 * b - 128
                planes[1][p] = -0.168736 * r - 0.331264 * g + 0.5 * b
                planes[2][p] = 0.5 * r - 0.418688 * g - 0.081312 * b
            } else {
                for c in 0..<nc { planes[c][p] = s(c) - 128 }
            }
        }
        return planes
    }

    /// Each component's quantized blocks in raster order, their coefficients in zigzag order;
    /// every component 1x1 sampled, with the luminance table for the first, chrominance for the others.
    private static func quantizedBlocks(_ planes: [[Double]], width: Int, height: Int, tables: [[Int]]) -> [[[Int]]] {
        let nc = planes.count
        let bx = (width + 7) / 8, by = (height + 7) / 8
        var blocks = [[[Int]]](repeating: [], count: nc)
        for c in 0..<nc {
            let table = tables[min(c, 1)]
            for row in 0..<by {
                for column in 0..<bx {
                    var block = [Double](repeating: 0, count: 64)
                    for y in 0..<8 {
                        for x in 0..<8 {
                            // edge replication
                            let sx = min(column * 8 + x, width - 1), sy = min(row * 8 + y, height - 1)
                            block[y * 8 + x] = planes[c][sy * width + sx]
                        }
                    }
                    let f = Self.forwardDCT(block)
                    blocks[c].append((0..<64).map { k in Int((f[Self.zigzag[k]] / Double(table[k])).rounded()) })
                }
            }
        }
        return blocks
    }

    /// Each Huffman symbol of the scan, in stream order (one block of each component per MCU):
    /// `emit` gets its table (0 luminance, 1 chrominance), class, symbol, and the extra bits'
    /// value and count.
    private static func walk(
        _ blocks: [[[Int]]], _ emit: (_ t: Int, _ isDC: Bool, _ symbol: Int, _ extra: Int, _ size: Int) -> Void
    ) {
        let nc = blocks.count
        var predictors = [Int](repeating: 0, count: nc)
        for b in 0..<blocks[0].count {  // every component has the same blocks (1x1 sampling)
            for c in 0..<nc {
                let t = min(c, 1), z = blocks[c][b]
                let diff = z[0] - predictors[c]
                predictors[c] = z[0]
                let s = JPEGLosslessCodec.category(diff)
                emit(t, true, s, diff, s)
                var run = 0
                for k in 1..<64 {
                    if z[k] == 0 { run += 1; continue }
                    while run > 15 { emit(t, false, 0xF0, 0, 0); run -= 16 }
                    let size = JPEGLosslessCodec.category(z[k])
                    emit(t, false, run << 4 | size, z[k], size)
                    run = 0
                }
                if run > 0 { emit(t, false, 0x00, 0, 0) }
            }
        }
    }

    /// A Huffman table as HuffmanBuilder makes it.
    private typealias HuffmanCode = (counts: [Int], values: [Int], codes: [Int], lengths: [Int])

    /// SOI, DQT, SOF0 (4.50) or SOF1 (4.51), DHT and SOS: the stream up to its entropy-coded data.
    private func headers(
        _ image: ImageDescription, quantization tables: [[Int]], dc dcTables: [HuffmanCode], ac acTables: [HuffmanCode]
    ) -> [UInt8] {
        let nc = image.samplesPerPixel, width = image.columns, height = image.rows
        var out: [UInt8] = [0xFF, 0xD8]
        for t in 0..<min(nc, 2) {
            out += [0xFF, 0xDB] + JPEGLosslessCodec.u16(67) + [UInt8(t)] + tables[t].map(UInt8.init)
        }
        out +=
            [0xFF, transferSyntax == .jpegExtended ? 0xC1 : 0xC0] + JPEGLosslessCodec.u16(8 + 3 * nc) + [8]
            + JPEGLosslessCodec.u16(height) + JPEGLosslessCodec.u16(width) + [UInt8(nc)]
        for c in 0..<nc { out += [UInt8(c + 1), 0x11, UInt8(min(c, 1))] }
        for t in 0..<min(nc, 2) {
            for (cls, table) in [(0, dcTables[t]), (1, acTables[t])] {
                out +=
                    [0xFF, 0xC4] + JPEGLosslessCodec.u16(19 + table.values.count) + [UInt8(cls << 4 | t)]
                    + table.counts.map(UInt8.init) + table.values.map(UInt8.init)
            }
        }
        out += [0xFF, 0xDA] + JPEGLosslessCodec.u16(6 + 2 * nc) + [UInt8(nc)]
        for c in 0..<nc { out += [UInt8(c + 1), UInt8(min(c, 1) << 4 | min(c, 1))] }
        out += [0x00, 0x3F, 0x00]
        return out
    }

    /// Separable float FDCT (T.81 A.3.3).
    static func forwardDCT(_ s: [Double]) -> [Double] {
        var temp = [Double](repeating: 0, count: 64), out = [Double](repeating: 0, count: 64)
        for y in 0..<8 {
            for u in 0..<8 {
                var sum = 0.0; for x in 0..<8 { sum += s[y * 8 + x] * basis[u * 8 + x] }; temp[y * 8 + u] = sum
            }
        }
        for u in 0..<8 {
            for v in 0..<8 {
                var sum = 0.0; for y in 0..<8 { sum += temp[y * 8 + u] * basis[v * 8 + y] }; out[v * 8 + u] = sum
            }
        }
        return out
    }
}
