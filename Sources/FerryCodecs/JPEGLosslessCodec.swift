import FerryDICOM

/// JPEG Lossless, Non-Hierarchical (ITU-T T.81 Process 14: 1.2.840.10008.1.2.4.57, any
/// predictor 1-7 and point transform; its SV1 form 1.2.840.10008.1.2.4.70), decoded in Swift:
/// libjpeg-turbo on Debian has no lossless mode. 2 to 16 bits, 1 or 3 components,
/// restart intervals; prediction and reconstruction are modulo 2^16 as T.81 H.1.2.1 says
/// (a decoder that clamps corrupts images that rely on the wrap). Encoding writes SV1.
public struct JPEGLosslessCodec: PixelCodec {
    public let transferSyntax: TransferSyntax
    public init(_ ts: TransferSyntax = .jpegLosslessSV1) { transferSyntax = ts }

    /// Encodes with selection value 1 (valid for both 4.70 and 4.57), precision = Bits
    /// Allocated (every stored bit pattern survives), one Huffman table built from the frame's
    /// own difference statistics (T.81 K.2).
    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        guard image.bitsAllocated == 8 || image.bitsAllocated == 16 else {
            throw CodecError("JPEG lossless: Bits Allocated \(image.bitsAllocated)", code: .unsupported)
        }
        guard image.rows <= 65535, image.columns <= 65535 else {
            throw CodecError("JPEG lossless: image larger than 65535", code: .unsupported)
        }
        guard let frameLength = image.frameLength, frame.count >= frameLength else {
            throw CodecError("JPEG lossless: frame shorter than the image", code: .mismatch)
        }
        let precision = image.bitsAllocated, nc = image.samplesPerPixel, width = image.columns, height = image.rows
        let bytes = precision / 8
        // Samples in scan order (interleaved components).
        var samples = [Int](repeating: 0, count: width * height * nc)
        let base = frame.startIndex
        for p in 0..<(width * height) {
            for c in 0..<nc {
                let index = image.planarConfiguration == 1 ? c * width * height + p : p * nc + c
                samples[p * nc + c] =
                    bytes == 1
                    ? Int(frame[base + index]) : Int(frame[base + 2 * index]) | Int(frame[base + 2 * index + 1]) << 8
            }
        }
        // Differences with predictor 1 (first sample 2^(P-1); first column from above).
        var diffs = [Int](repeating: 0, count: samples.count)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<nc {
                    let i = (y * width + x) * nc + c
                    let prediction =
                        x == 0 ? (y == 0 ? 1 << (precision - 1) : samples[i - width * nc]) : samples[i - nc]
                    var d = (samples[i] - prediction) & 0xFFFF
                    if d >= 32768 { d -= 65536 }  // -32768 stays as 32768 below (category 16)
                    if d == -32768 { d = 32768 }
                    diffs[i] = d
                }
            }
        }
        var frequencies = [Int](repeating: 0, count: 17)
        for d in diffs { frequencies[Self.category(d)] += 1 }
        let table = HuffmanBuilder.optimal(frequencies)
        var out: [UInt8] = [0xFF, 0xD8]
        // SOF3
        out +=
            [0xFF, 0xC3] + Self.u16(8 + 3 * nc) + [UInt8(precision)] + Self.u16(height) + Self.u16(width) + [UInt8(nc)]
        for c in 0..<nc { out += [UInt8(c + 1), 0x11, 0x00] }
        // DHT (class 0, table 0)
        out +=
            [0xFF, 0xC4] + Self.u16(2 + 1 + 16 + table.values.count) + [0x00] + table.counts.map(UInt8.init)
            + table.values.map(UInt8.init)
        // SOS: all components on table 0, Ss = 1 (predictor), Se = 0, Ah/Al = 0
        out += [0xFF, 0xDA] + Self.u16(6 + 2 * nc) + [UInt8(nc)]
        for c in 0..<nc { out += [UInt8(c + 1), 0x00] }
        out += [0x01, 0x00, 0x00]
        var writer = BitWriter()
        for d in diffs {
            let ssss = Self.category(d)
            writer.write(table.codes[ssss], length: table.lengths[ssss])
            if ssss > 0 && ssss < 16 {
                let extra = d > 0 ? d : d - 1
                writer.write(extra & ((1 << ssss) - 1), length: ssss)
            }
        }
        out += writer.finish()
        out += [0xFF, 0xD9]
        if out.count % 2 == 1 { out.append(0) }
        return out
    }

    static func category(_ d: Int) -> Int {
        if d == 32768 { return 16 }
        var m = abs(d), n = 0
        while m > 0 { n += 1; m >>= 1 }
        return n
    }

    static func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// The frame header's precision, size and components (identifier, Huffman table).
    private typealias Frame = (precision: Int, height: Int, width: Int, components: [(id: Int, table: Int)])

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        let data: [UInt8] = fragments.count == 1 ? Array(fragments[0]) : fragments.flatMap { $0 }
        var r = Reader(data: data)
        guard r.u8() == 0xFF, r.u8() == 0xD8 else { throw CodecError("JPEG lossless: no SOI marker") }
        var tables: [Int: Huffman] = [:]
        var restartInterval = 0
        var frame: Frame?
        while true {
            let marker = try r.marker()
            switch marker {
            case 0xC3:
                frame = try readFrameHeader(&r)
            case 0xC0, 0xC1, 0xC2, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF:
                throw CodecError(
                    "JPEG lossless: SOF marker 0xFF\(String(marker, radix: 16, uppercase: true)) is not lossless process 14"
                )
            case 0xC4:
                try readHuffmanTables(&r, into: &tables)
            case 0xDD:
                _ = try r.u16()
                restartInterval = try r.u16()
            case 0xDA:
                guard let f = frame else { throw CodecError("JPEG lossless: SOS before SOF") }
                try check(f, image)
                let scan = try readScanHeader(&r, frame: f, tables: tables)
                if f.components.count == 1, image.bitsAllocated == 16, scan.pt == 0, restartInterval == 0 {
                    return try decodeGrey16(
                        data: data, start: r.pos, width: f.width, height: f.height, precision: f.precision,
                        huffman: scan.huffman[0], predictor: scan.predictor, image: image)
                }
                return try decodeScan(
                    data: data, start: r.pos, frame: f, huffman: scan.huffman, predictor: scan.predictor, pt: scan.pt,
                    restartInterval: restartInterval, image: image)
            case 0xD9:
                throw CodecError("JPEG lossless: end of image before any scan")
            default:
                // APPn, COM, DQT... skipped by their length.
                let length = try r.u16()
                guard length >= 2, r.pos + length - 2 <= data.count else {
                    throw CodecError("JPEG lossless: marker segment runs past the end")
                }
                r.pos += length - 2
            }
        }
    }

    /// SOF3: every component must be full size (1x1 sampling).
    private func readFrameHeader(_ r: inout Reader) throws(CodecError) -> Frame {
        let length = try r.u16() - 2
        let end = r.pos + length
        let precision = try r.byte(), height = try r.u16(), width = try r.u16(), count = try r.byte()
        var components: [(Int, Int)] = []
        for _ in 0..<count {
            let id = try r.byte(), sampling = try r.byte()
            _ = try r.byte()
            guard sampling == 0x11 else {
                throw CodecError("JPEG lossless: subsampled components are not supported", code: .unsupported)
            }
            components.append((id, 0))
        }
        r.pos = end
        return (precision, height, width, components)
    }

    /// DHT: one or more tables, by their identifier (the class is not looked at).
    private func readHuffmanTables(_ r: inout Reader, into tables: inout [Int: Huffman]) throws(CodecError) {
        for (tc, table) in try r.huffmanTables() { tables[tc & 0x0F] = table }
    }

    /// SOS: one interleaved scan of every component, with its tables, predictor (selection
    /// value) and point transform.
    private func readScanHeader(
        _ r: inout Reader, frame f: Frame, tables: [Int: Huffman]
    ) throws(CodecError) -> (huffman: [Huffman], predictor: Int, pt: Int) {
        let length = try r.u16() - 2
        let end = r.pos + length
        let ns = try r.byte()
        guard ns == f.components.count else {
            throw CodecError(
                "JPEG lossless: scan has \(ns) of \(f.components.count) components (non-interleaved scans are not supported)",
                code: .unsupported)
        }
        var huff: [Huffman] = []
        for _ in 0..<ns {
            _ = try r.byte()
            let t = (try r.byte()) >> 4
            guard let h = tables[t] else { throw CodecError("JPEG lossless: missing Huffman table \(t)") }
            huff.append(h)
        }
        let predictor = try r.byte()
        _ = try r.byte()  // Se
        let pt = (try r.byte()) & 0x0F
        r.pos = end
        guard (1...7).contains(predictor) else {
            throw CodecError("JPEG lossless: predictor \(predictor) (selection value must be 1 to 7)")
        }
        guard pt < f.precision else {
            throw CodecError("JPEG lossless: point transform \(pt) for precision \(f.precision)")
        }
        return (huff, predictor, pt)
    }

    private func check(_ f: Frame, _ image: ImageDescription) throws(CodecError) {
        guard f.width == image.columns, f.height == image.rows, f.components.count == image.samplesPerPixel else {
            throw CodecError(
                "JPEG lossless: the stream is \(f.width)x\(f.height)x\(f.components.count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)"
            )
        }
        guard (2...16).contains(f.precision), f.precision <= image.bitsAllocated else {
            throw CodecError(
                "JPEG lossless: precision \(f.precision) does not fit Bits Allocated \(image.bitsAllocated)",
                code: .mismatch)
        }
    }

    /// The common case (CT, MR, CR, DX: one 16-bit component, no point transform, no restarts),
    /// decoded straight into the output frame: prediction and reconstruction in UInt16 wrap
    /// modulo 2^16 by themselves. A DifferenceTable decodes most differences in one lookup.
    private func decodeGrey16(
        data: [UInt8], start: Int, width: Int, height: Int, precision: Int, huffman table: Huffman,
        predictor: Int, image: ImageDescription
    ) throws(CodecError) -> [UInt8] {
        guard width > 0, height > 0, let frameLength = image.frameLength, frameLength >= width * height * 2 else {
            throw CodecError("JPEG lossless: image size overflows", code: .mismatch)
        }
        var out = [UInt8](repeating: 0, count: frameLength)
        let initial = UInt16(truncatingIfNeeded: 1 << (precision - 1))
        let differences = DifferenceTable(table)
        try data.withUnsafeBufferPointer { (buffer) throws(CodecError) in
            try differences.entries.withUnsafeBufferPointer { (fastTable) throws(CodecError) in
                try out.withUnsafeMutableBufferPointer { (bytes) throws(CodecError) in
                    guard let fast = fastTable.baseAddress,
                        let s = UnsafeMutableRawBufferPointer(bytes).bindMemory(to: UInt16.self).baseAddress
                    else { return }
                    var bits = BitReader(data: buffer, pos: start)
                    // The decoder's hot state stays in registers: the accumulator, its bit
                    // count and the left neighbour. One lookup decodes most differences.
                    var acc: UInt64 = 0, count = 0
                    for y in 0..<height {
                        let row = s + y &* width, above = row - width
                        var left: UInt16 = 0
                        for x in 0..<width {
                            if count < 32 { (acc, count) = try bits.refilled(acc, count) }
                            let entry = fast[Int(truncatingIfNeeded: acc &>> UInt64(64 - DifferenceTable.bits))]
                            let difference: Int
                            if entry != 0 {
                                let length = Int(truncatingIfNeeded: entry & 0xFF)
                                acc &<<= UInt64(truncatingIfNeeded: length)
                                count &-= length
                                difference = Int(truncatingIfNeeded: Int32(bitPattern: entry) >> 16)
                            } else {
                                (difference, acc, count) = try bits.difference(table, acc, count)
                            }
                            let prediction: UInt16
                            if x == 0 {
                                prediction = y == 0 ? initial : above[0]  // 2^(P-1), then from above
                            } else if y == 0 || predictor == 1 {
                                prediction = left
                            } else {
                                let ra = Int(left), rb = Int(above[x]), rc = Int(above[x &- 1])
                                switch predictor {
                                case 2: prediction = UInt16(truncatingIfNeeded: rb)
                                case 3: prediction = UInt16(truncatingIfNeeded: rc)
                                case 4: prediction = UInt16(truncatingIfNeeded: ra &+ rb &- rc)
                                case 5: prediction = UInt16(truncatingIfNeeded: ra &+ ((rb &- rc) >> 1))
                                case 6: prediction = UInt16(truncatingIfNeeded: rb &+ ((ra &- rc) >> 1))
                                default: prediction = UInt16(truncatingIfNeeded: (ra &+ rb) >> 1)
                                }
                            }
                            left = prediction &+ UInt16(truncatingIfNeeded: difference)
                            row[x] = left
                        }
                    }
                }
            }
        }
        #if _endian(big)
            for i in stride(from: 0, to: out.count - 1, by: 2) { out.swapAt(i, i + 1) }
        #endif
        return out
    }

    /// The general case (any component count, point transform and restart interval): the scan
    /// is decoded into one Int per sample, then laid out as the frame.
    private func decodeScan(
        data: [UInt8], start: Int, frame f: Frame, huffman: [Huffman], predictor: Int, pt: Int, restartInterval: Int,
        image: ImageDescription
    ) throws(CodecError) -> [UInt8] {
        let width = f.width, height = f.height, nc = f.components.count
        guard let frameLength = image.frameLength else {
            throw CodecError("JPEG lossless: image size overflows", code: .mismatch)
        }
        var samples = [Int](repeating: 0, count: width * height * nc)
        let initial = 1 << (f.precision - pt - 1)
        try data.withUnsafeBufferPointer { (buffer) throws(CodecError) in
            try samples.withUnsafeMutableBufferPointer { (s) throws(CodecError) in
                var bits = BitReader(data: buffer, pos: start)
                var mcusLeft = restartInterval
                // Where the last reset (the start, or a restart marker) happened: that sample is
                // predicted from 2^(P-Pt-1), the rest of its line from the left (T.81 H.1.2.1).
                var resetRow = 0, resetX = 0
                let line = width * nc
                for y in 0..<height {
                    for x in 0..<width {
                        if restartInterval > 0 {
                            if mcusLeft == 0 {
                                try bits.restart()
                                mcusLeft = restartInterval
                                resetRow = y
                                resetX = x
                            }
                            mcusLeft -= 1
                        }
                        let first = (y * width + x) * nc
                        for c in 0..<nc {
                            let i = first + c
                            let prediction: Int
                            if y == resetRow && x == resetX {
                                prediction = initial
                            } else if y == resetRow {
                                prediction = s[i - nc]
                            } else if x == 0 {
                                prediction = s[i - line]
                            } else {
                                let ra = s[i - nc], rb = s[i - line], rc = s[i - line - nc]
                                switch predictor {
                                case 1: prediction = ra
                                case 2: prediction = rb
                                case 3: prediction = rc
                                case 4: prediction = ra + rb - rc
                                case 5: prediction = ra + ((rb - rc) >> 1)
                                case 6: prediction = rb + ((ra - rc) >> 1)
                                default: prediction = (ra + rb) >> 1
                                }
                            }
                            s[i] = (prediction + (try bits.difference(huffman[c]))) & 0xFFFF
                        }
                    }
                }
            }
        }
        return try frameBytes(
            samples, components: nc, pixels: width * height, pt: pt, frameLength: frameLength, image: image)
    }

    /// The decoded samples as the data set's frame: native little endian, with the point
    /// transform undone.
    private func frameBytes(
        _ samples: [Int], components nc: Int, pixels: Int, pt: Int, frameLength: Int, image: ImageDescription
    ) throws(CodecError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: frameLength)
        let bytes = image.bitsAllocated / 8
        let planes = image.planarConfiguration == 1 && nc > 1
        // frameLength >= samples x bytes: the stream's size was checked against the data set.
        guard frameLength >= samples.count * bytes else {
            throw CodecError("JPEG lossless: frame smaller than the stream")
        }
        samples.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<src.count {
                    let v = (src[i] << pt) & 0xFFFF
                    // The scan interleaves components; the data set may want planes.
                    let o = planes ? (i % nc) * pixels + i / nc : i
                    if bytes == 1 {
                        dst[o] = UInt8(truncatingIfNeeded: v)
                    } else {
                        dst[2 * o] = UInt8(truncatingIfNeeded: v)
                        dst[2 * o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    }
                }
            }
        }
        return out
    }
}
