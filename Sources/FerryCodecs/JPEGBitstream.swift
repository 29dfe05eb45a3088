/// Pieces shared by the Swift JPEG codecs (lossless and DCT): marker segments, canonical
/// Huffman tables, and the entropy-coded segment's bit reader and writer.

/// Reads marker segments.
struct Reader {
    let data: [UInt8]
    var pos = 0
    var label = "JPEG lossless"
    mutating func u8() -> UInt8? {
        guard pos < data.count else { return nil }
        defer { pos += 1 }
        return data[pos]
    }
    mutating func byte() throws(CodecError) -> Int {
        guard let b = u8() else { throw CodecError("\(label): stream ends inside a marker segment") }
        return Int(b)
    }
    mutating func u16() throws(CodecError) -> Int { (try byte()) << 8 | (try byte()) }
    mutating func marker() throws(CodecError) -> Int {
        guard try byte() == 0xFF else { throw CodecError("\(label): expected a marker at offset \(pos - 1)") }
        var m = try byte()
        while m == 0xFF { m = try byte() }
        return m
    }
}

/// A Huffman table as canonical codes (T.81 C and F.2.2.3).
struct Huffman {
    var maxCode = [Int](repeating: -1, count: 17)
    var valPtr = [Int](repeating: 0, count: 17)
    var minCode = [Int](repeating: 0, count: 17)
    var values: [UInt8]

    init(counts: [Int], values: [UInt8], label: String = "JPEG lossless") throws(CodecError) {
        self.values = values
        var code = 0, k = 0
        for l in 1...16 {
            let n = counts[l - 1]
            if n > 0 {
                valPtr[l] = k
                minCode[l] = code
                code += n
                k += n
                maxCode[l] = code - 1
                guard maxCode[l] < 1 << l else { throw CodecError("\(label): over-subscribed Huffman table") }
            }
            code <<= 1
        }
    }
}

/// The entropy-coded segment: bits MSB first, 0xFF00 stuffing, RSTn markers.
struct BitReader {
    let data: [UInt8]
    var pos: Int
    var label = "JPEG lossless"
    var acc = 0
    var count = 0

    mutating func bit() throws(CodecError) -> Int {
        if count == 0 {
            guard pos < data.count else { throw CodecError("\(label): entropy-coded data ends early") }
            var b = Int(data[pos])
            pos += 1
            if b == 0xFF {
                guard pos < data.count else { throw CodecError("\(label): entropy-coded data ends early") }
                let next = data[pos]
                if next == 0x00 { pos += 1 } else {
                    // A marker inside the scan: feed zeros (T.81 F.2.2.5); it ends the data.
                    pos -= 1
                    b = 0
                }
            }
            acc = b
            count = 8
        }
        count -= 1
        return (acc >> count) & 1
    }

    mutating func bits(_ n: Int) throws(CodecError) -> Int {
        var v = 0
        for _ in 0..<n { v = v << 1 | (try bit()) }
        return v
    }

    /// The next Huffman-coded symbol (T.81 F.2.2.3).
    mutating func symbol(_ h: Huffman) throws(CodecError) -> Int {
        var code = try bit(), l = 1
        while l <= 16, code > h.maxCode[l] {
            code = code << 1 | (try bit())
            l += 1
        }
        guard l <= 16 else { throw CodecError("\(label): invalid Huffman code") }
        let index = h.valPtr[l] + code - h.minCode[l]
        guard index >= 0, index < h.values.count else { throw CodecError("\(label): invalid Huffman code") }
        return Int(h.values[index])
    }

    /// RECEIVE and EXTEND (T.81 F.2.2.1): an s-bit magnitude category to a signed value.
    mutating func received(_ s: Int) throws(CodecError) -> Int {
        guard s > 0 else { return 0 }
        let v = try bits(s)
        return v < 1 << (s - 1) ? v - (1 << s) + 1 : v
    }

    mutating func difference(_ h: Huffman) throws(CodecError) -> Int {
        let ssss = try symbol(h)
        switch ssss {
        case 0: return 0
        case 16: return 32768
        case 1...15:
            let v = try bits(ssss)
            return v < 1 << (ssss - 1) ? v - (1 << ssss) + 1 : v
        default: throw CodecError("\(label): difference category \(ssss)")
        }
    }

    /// Skips to the RSTn marker, resets the bit buffer (T.81 F.2.1.3).
    mutating func restart() throws(CodecError) {
        count = 0
        while pos + 1 < data.count, !(data[pos] == 0xFF && (0xD0...0xD7).contains(data[pos + 1])) { pos += 1 }
        guard pos + 1 < data.count else { throw CodecError("\(label): missing restart marker") }
        pos += 2
    }
}

/// Entropy-coded output: bits MSB first, 0xFF stuffed with 0x00, padded with 1 bits.
struct BitWriter {
    var out: [UInt8] = []
    var acc = 0
    var count = 0

    mutating func write(_ value: Int, length: Int) {
        for i in stride(from: length - 1, through: 0, by: -1) {
            acc = acc << 1 | (value >> i & 1)
            count += 1
            if count == 8 { emit() }
        }
    }

    private mutating func emit() {
        let b = UInt8(acc & 0xFF)
        out.append(b)
        if b == 0xFF { out.append(0x00) }
        acc = 0
        count = 0
    }

    mutating func finish() -> [UInt8] {
        while count != 0 { acc = acc << 1 | 1; count += 1; if count == 8 { emit() } }
        return out
    }
}
