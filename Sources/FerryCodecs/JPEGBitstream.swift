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

/// A Huffman table as canonical codes (T.81 C and F.2.2.3), with a 9-bit lookup for the
/// short codes that make up almost every symbol. A class, so the decoders' inner loops pass a
/// reference instead of copying (and reference-counting) four arrays per symbol.
final class Huffman {
    static let lookupBits = 9
    // Immutable after init: `let` spares the inner loops dynamic exclusivity checks.
    let maxCode: [Int]
    let valPtr: [Int]
    let minCode: [Int]
    let values: [UInt8]
    /// By the next 9 bits: symbol << 8 | code length, or 0 when the code is longer.
    let lookup: [UInt16]

    init(counts: [Int], values: [UInt8], label: String = "JPEG lossless") throws(CodecError) {
        var maxCode = [Int](repeating: -1, count: 18), valPtr = [Int](repeating: 0, count: 17), minCode = [Int](repeating: 0, count: 17)
        var lookup = [UInt16](repeating: 0, count: 1 << Self.lookupBits)
        var code = 0, k = 0
        for l in 1...16 {
            let n = counts[l - 1]
            if n > 0 {
                valPtr[l] = k
                minCode[l] = code
                guard k + n <= values.count else { throw CodecError("\(label): Huffman table lists more codes than values") }
                guard code + n <= 1 << l else { throw CodecError("\(label): over-subscribed Huffman table") }
                for i in 0..<n where l <= Self.lookupBits {
                    let first = (code + i) << (Self.lookupBits - l), span = 1 << (Self.lookupBits - l)
                    for j in first..<(first + span) { lookup[j] = UInt16(values[k + i]) << 8 | UInt16(l) }
                }
                code += n
                k += n
                maxCode[l] = code - 1
            }
            code <<= 1
        }
        maxCode[17] = Int.max  // stops the slow search
        self.maxCode = maxCode
        self.valPtr = valPtr
        self.minCode = minCode
        self.values = values
        self.lookup = lookup
    }
}

/// The entropy-coded segment: bits MSB first, 0xFF00 stuffing, RSTn markers. Reads through an
/// unsafe buffer (the caller keeps the bytes alive) with a 64-bit accumulator: the decoders'
/// hottest code.
struct BitReader {
    let data: UnsafeBufferPointer<UInt8>
    var pos: Int
    var label = "JPEG lossless"
    var acc: UInt64 = 0
    var count = 0
    /// Zero bits fed after the data or a marker (T.81 F.2.2.5); too many means a truncated scan.
    var padding = 0

    init(data: UnsafeBufferPointer<UInt8>, pos: Int, label: String = "JPEG lossless") {
        self.data = data
        self.pos = pos
        self.label = label
    }

    /// Tops the accumulator up to at least 57 bits.
    @inline(__always)
    mutating func fill() throws(CodecError) {
        while count <= 56 {
            var b: UInt64 = 0
            if pos < data.count, data[pos] != 0xFF {
                b = UInt64(data[pos])
                pos += 1
            } else if pos + 1 < data.count, data[pos + 1] == 0x00 {
                b = 0xFF
                pos += 2
            } else {
                // A marker or the end: zeros (T.81 F.2.2.5). The accumulator reads at most 8
                // bytes ahead, so a scan that needs more than that is truncated.
                padding += 1
                guard padding <= 16 else { throw CodecError("\(label): entropy-coded data ends early") }
            }
            acc |= b << UInt64(56 - count)
            count += 8
        }
    }

    @inline(__always)
    mutating func bit() throws(CodecError) -> Int {
        if count == 0 { try fill() }
        let v = Int(acc >> 63)
        acc <<= 1
        count -= 1
        return v
    }

    @inline(__always)
    mutating func bits(_ n: Int) throws(CodecError) -> Int {
        guard n > 0 else { return 0 }
        if count < n { try fill() }
        let v = Int(acc >> UInt64(64 - n))
        acc <<= UInt64(n)
        count -= n
        return v
    }

    /// The next Huffman-coded symbol (T.81 F.2.2.3). Needs 16 bits in the accumulator.
    @inline(__always)
    mutating func decodeSymbol(_ h: Huffman) throws(CodecError) -> Int {
        let entry = h.lookup[Int(acc >> UInt64(64 - Huffman.lookupBits))]
        if entry != 0 {
            let length = Int(entry & 0xFF)
            acc <<= UInt64(length)
            count -= length
            return Int(entry >> 8)
        }
        var l = Huffman.lookupBits + 1
        var code = Int(acc >> UInt64(64 - l))
        while code > h.maxCode[l] {
            l += 1
            guard l <= 16 else { throw CodecError("\(label): invalid Huffman code") }
            code = Int(acc >> UInt64(64 - l))
        }
        let index = h.valPtr[l] + code - h.minCode[l]
        guard index >= 0, index < h.values.count else { throw CodecError("\(label): invalid Huffman code") }
        acc <<= UInt64(l)
        count -= l
        return Int(h.values[index])
    }

    /// RECEIVE and EXTEND (T.81 F.2.2.1) of s bits already in the accumulator.
    @inline(__always)
    mutating func extend(_ s: Int) -> Int {
        guard s > 0 else { return 0 }
        let v = Int(acc >> UInt64(64 - s))
        acc <<= UInt64(s)
        count -= s
        return v < 1 << (s - 1) ? v - (1 << s) + 1 : v
    }

    @inline(__always)
    mutating func symbol(_ h: Huffman) throws(CodecError) -> Int {
        if count < 16 { try fill() }
        return try decodeSymbol(h)
    }

    @inline(__always)
    mutating func received(_ s: Int) throws(CodecError) -> Int {
        if count < s { try fill() }
        return extend(s)
    }

    /// A lossless difference (T.81 H.1.2.2): its category, then that many bits (none for 16).
    /// One refill covers both (at most 16 + 15 bits).
    @inline(__always)
    mutating func difference(_ h: Huffman) throws(CodecError) -> Int {
        if count < 32 { try fill() }
        let ssss = try decodeSymbol(h)
        switch ssss {
        case 0: return 0
        case 16: return 32768
        case 1...15: return extend(ssss)
        default: throw CodecError("\(label): difference category \(ssss)")
        }
    }

    /// Skips to the RSTn marker, resets the bit buffer (T.81 F.2.1.3). The accumulator never
    /// reads past a marker, so the marker is at or after `pos`.
    mutating func restart() throws(CodecError) {
        acc = 0
        count = 0
        padding = 0
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
