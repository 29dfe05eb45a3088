/// A JPEG 2000 codestream's markers, walked before OpenJPEG sees the stream: the image and tile
/// sizes (SIZ) against the data set, every tile-part's bounds, and the code-block styles of
/// every COD and COC. OpenJPEG 2.5.0 (Debian 12) overflows a heap buffer when HT and classic
/// code-blocks are mixed in one stream (uclouvain/openjpeg#1413, fixed in 2.5.1), so a stream
/// whose styles differ, or that asks for the mixed mode, is refused here; and since the checks
/// need only the markers, nothing is allocated for a stream that claims a huge image.
struct JPEG2000Codestream {
    /// The codestream itself: a JP2 file's `jp2c` box contents, or the data as they are.
    let bytes: ArraySlice<UInt8>
    /// True when the code-blocks are High-Throughput (Part 15).
    private(set) var highThroughput = false

    /// Checks the stream against the image; `allowHT` for the HTJ2K transfer syntaxes.
    init(_ data: [UInt8], image: ImageDescription, allowHT: Bool) throws(CodecError) {
        bytes = try Self.codestream(data)
        var r = MarkerReader(bytes: bytes)
        guard try r.u16() == 0xFF4F, try r.u16() == 0xFF51 else {
            throw CodecError("JPEG 2000: the codestream does not start with SOC and SIZ")
        }
        let tiles = try Self.checkSIZ(&r, image: image)
        var styles: Set<UInt8> = []
        // Main header, then each tile-part header: marker segments up to SOT, then SOD.
        while true {
            let marker = try r.u16()
            if marker == 0xFF90 { break }
            try Self.segment(marker, &r, components: image.samplesPerPixel, styles: &styles)
        }
        while true {
            let sot = r.pos - 2
            let length = try r.u16()
            let tile = try r.u16()
            let partLength = Int(try r.u32())
            r.pos = sot + 2 + length
            guard length == 10, tile < tiles else {
                throw CodecError("JPEG 2000: tile-part header at \(sot): tile \(tile) of \(tiles), Lsot \(length)")
            }
            while true {
                let marker = try r.u16()
                if marker == 0xFF93 { break }
                try Self.segment(marker, &r, components: image.samplesPerPixel, styles: &styles)
            }
            if partLength == 0 { break }  // the last tile-part runs to EOC
            guard partLength >= 14, sot + partLength <= bytes.count else {
                throw CodecError(
                    "JPEG 2000: tile-part at \(sot) of \(partLength) bytes runs past the end (\(bytes.count) bytes)")
            }
            r.pos = sot + partLength
            if r.pos + 2 > bytes.count { break }
            let next = try r.u16()
            if next == 0xFFD9 { break }
            guard next == 0xFF90 else {
                throw CodecError(
                    "JPEG 2000: marker 0x\(String(next, radix: 16)) at \(r.pos - 2) where SOT or EOC belongs")
            }
        }
        guard styles.allSatisfy({ $0 & 0x80 == 0 }), Set(styles.map { $0 & 0x40 }).count <= 1 else {
            throw CodecError(
                "JPEG 2000: HT and classic code-blocks mixed in one stream (refused: OpenJPEG 2.5.0 overflows a buffer on them)",
                code: .unsupported)
        }
        highThroughput = styles.contains { $0 & 0x40 != 0 }
        guard allowHT || !highThroughput else {
            throw CodecError(
                "JPEG 2000: HT code-blocks (HTJ2K) under a JPEG 2000 Part 1 transfer syntax", code: .mismatch)
        }
    }

    /// SIZ (A.5.1): the image is the data set's, no subsampling, at most 16 bits, and the tile
    /// grid has at most 65535 tiles. Returns the number of tiles.
    private static func checkSIZ(_ r: inout MarkerReader, image: ImageDescription) throws(CodecError) -> Int {
        let start = r.pos
        let length = try r.u16()
        _ = try r.u16()  // Rsiz
        let x = Int(try r.u32()), y = Int(try r.u32()), x0 = Int(try r.u32()), y0 = Int(try r.u32())
        let tw = Int(try r.u32()), th = Int(try r.u32()), tx0 = Int(try r.u32()), ty0 = Int(try r.u32())
        let count = try r.u16()
        guard length == 38 + 3 * count else {
            throw CodecError("JPEG 2000: SIZ length \(length) for \(count) components")
        }
        guard x > x0, y > y0, x - x0 == image.columns, y - y0 == image.rows, count == image.samplesPerPixel else {
            throw CodecError(
                "JPEG 2000: the codestream is \(x - x0)x\(y - y0)x\(count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)",
                code: .mismatch)
        }
        guard tw > 0, th > 0, tx0 <= x0, ty0 <= y0, tx0 + tw > x0, ty0 + th > y0 else {
            throw CodecError("JPEG 2000: tiles \(tw)x\(th) at \(tx0),\(ty0) do not cover the image at \(x0),\(y0)")
        }
        let tiles = ((x - tx0 + tw - 1) / tw) * ((y - ty0 + th - 1) / th)
        guard tiles <= 65535 else { throw CodecError("JPEG 2000: \(tiles) tiles (at most 65535)") }
        for c in 0..<count {
            let depth = try r.byte(), dx = try r.byte(), dy = try r.byte()
            guard dx == 1, dy == 1 else {
                throw CodecError("JPEG 2000: component \(c) is subsampled \(dx)x\(dy)", code: .unsupported)
            }
            guard depth & 0x7F < 16 else {
                throw CodecError("JPEG 2000: component \(c) has \((depth & 0x7F) + 1) bits", code: .unsupported)
            }
        }
        r.pos = start + length
        return tiles
    }

    /// One marker segment of a header: its length checked, a COD's or COC's code-block style kept.
    private static func segment(
        _ marker: Int, _ r: inout MarkerReader, components: Int, styles: inout Set<UInt8>
    ) throws(CodecError) {
        guard marker >= 0xFF30 else {
            throw CodecError("JPEG 2000: 0x\(String(marker, radix: 16)) at \(r.pos - 2) is not a marker")
        }
        if (0xFF30...0xFF3F).contains(marker) { return }  // no segment (A.1.3)
        let start = r.pos
        let length = try r.u16()
        guard length >= 2, start + length <= r.bytes.count else {
            throw CodecError("JPEG 2000: marker segment at \(start - 2) runs past the end")
        }
        switch marker {
        case 0xFF5E, 0xFF60, 0xFF61:
            // RGN, PPM, PPT: no DICOM encoder writes them, and OpenJPEG's fixes after 2.5.0
            // touch their parsing (see the README's library notes).
            throw CodecError(
                "JPEG 2000: marker 0x\(String(marker, radix: 16, uppercase: true)) (region of interest or packed headers)",
                code: .unsupported)
        case 0xFF52:  // COD: Scod, SGcod (progression, layers (2), MCT), levels, xcb, ycb, style
            r.pos = start + 2 + 1 + 1
            let layers = try r.u16()
            r.pos += 1
            let levels = try r.byte()
            guard (1...64).contains(layers), levels <= 32 else {
                throw CodecError("JPEG 2000: COD with \(layers) layers and \(levels) decomposition levels")
            }
            r.pos = start + 2 + 1 + 4 + 3
            styles.insert(try r.byte8())
        case 0xFF53:  // COC: Ccoc (1 or 2), Scoc, levels, xcb, ycb, style
            r.pos = start + 2 + (components < 257 ? 1 : 2) + 1 + 3
            styles.insert(try r.byte8())
        default:
            break
        }
        guard r.pos <= start + length else { throw CodecError("JPEG 2000: COD/COC at \(start - 2) is too short") }
        r.pos = start + length
    }

    /// The `jp2c` box of a JP2 file (I.4), or the data when they are a bare codestream. The JP2
    /// boxes (colour, palette, channel definitions) are not used: the data set says what the
    /// samples are, and OpenJPEG 2.5.0's palette handling reads out of bounds (OSS-Fuzz 47342).
    private static func codestream(_ data: [UInt8]) throws(CodecError) -> ArraySlice<UInt8> {
        if data.count >= 2, data[0] == 0xFF, data[1] == 0x4F { return data[...] }
        var r = MarkerReader(bytes: data[...])
        while r.pos + 8 <= data.count {
            let start = r.pos
            var length = Int(try r.u32())
            let type = try r.u32()
            var header = 8
            if length == 1 {
                let high = Int(try r.u32()), low = Int(try r.u32())
                guard high < 0x8000 else { break }
                length = high << 32 | low
                header = 16
            } else if length == 0 {
                length = data.count - start
            }
            guard length >= header, length <= data.count - start else { break }
            if type == 0x6A70_3263 { return data[(start + header)..<(start + length)] }  // "jp2c"
            r.pos = start + length
        }
        throw CodecError("JPEG 2000: neither a codestream (FF4F) nor a JP2 file with a jp2c box")
    }
}

/// Big-endian reads within a slice, each checked against its end.
struct MarkerReader {
    let bytes: ArraySlice<UInt8>
    /// Offset from the slice's start.
    var pos = 0

    init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    mutating func byte8() throws(CodecError) -> UInt8 {
        guard pos < bytes.count else { throw CodecError("JPEG 2000: the stream ends inside a marker segment") }
        defer { pos += 1 }
        return bytes[bytes.startIndex + pos]
    }
    mutating func byte() throws(CodecError) -> Int { Int(try byte8()) }
    mutating func u16() throws(CodecError) -> Int { (try byte()) << 8 | (try byte()) }
    mutating func u32() throws(CodecError) -> UInt32 { UInt32((try u16()) << 16 | (try u16())) }
}
