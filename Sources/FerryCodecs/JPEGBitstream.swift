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

    /// A DHT segment's tables (T.81 B.2.4.2), each with its class and identifier byte (Tc Th).
    mutating func huffmanTables() throws(CodecError) -> [(classAndID: Int, table: Huffman)] {
        let length = try u16() - 2
        let end = pos + length
        var tables: [(classAndID: Int, table: Huffman)] = []
        while pos < end {
            let tc = try byte()
            var counts: [Int] = []
            for _ in 0..<16 { counts.append(try byte()) }
            let total = counts.reduce(0, +)
            guard total <= 256, pos + total <= data.count else { throw CodecError("\(label): bad Huffman table") }
            tables.append((tc, try Huffman(counts: counts, values: Array(data[pos..<pos + total]), label: label)))
            pos += total
        }
        return tables
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
        var maxCode = [Int](repeating: -1, count: 18), valPtr = [Int](repeating: 0, count: 17),
            minCode = [Int](repeating: 0, count: 17)
        var lookup = [UInt16](repeating: 0, count: 1 << Self.lookupBits)
        var code = 0, k = 0
        for l in 1...16 {
            let n = counts[l - 1]
            if n > 0 {
                valPtr[l] = k
                minCode[l] = code
                guard k + n <= values.count else {
                    throw CodecError("\(label): Huffman table lists more codes than values")
                }
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

/// A lossless Huffman table (T.81 H.1.2.2) expanded by the next `bits` bits of the stream to
/// the difference they encode when the code and its extra bits fit: the entry is the
/// difference (signed, high 16 bits) and the bits consumed (low 8), or 0 when they do not fit.
struct DifferenceTable {
    static let bits = 12
    let entries: [UInt32]

    init(_ h: Huffman) {
        var entries = [UInt32](repeating: 0, count: 1 << Self.bits)
        for l in 1...Self.bits where h.maxCode[l] >= 0 {
            for code in h.minCode[l]...h.maxCode[l] {
                let index = h.valPtr[l] + code - h.minCode[l]
                guard index >= 0, index < h.values.count else { continue }
                let ssss = Int(h.values[index])
                guard ssss <= 15, l + ssss <= Self.bits else { continue }
                for extra in 0..<(1 << ssss) {
                    let difference = ssss == 0 ? 0 : (extra < 1 << (ssss - 1) ? extra - (1 << ssss) + 1 : extra)
                    let total = l + ssss
                    let first = ((code << ssss) | extra) << (Self.bits - total)
                    let entry = UInt32(bitPattern: Int32(difference) << 16) | UInt32(total)
                    for j in first..<(first + (1 << (Self.bits - total))) { entries[j] = entry }
                }
            }
        }
        self.entries = entries
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
        // Fast path: the next 8 bytes hold no 0xFF (no stuffing, no marker): take the whole
        // bytes that fit in one load.
        if pos &+ 8 <= data.count, let base = data.baseAddress {
            let word = UInt64(bigEndian: UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self))
            let inverted = ~word
            if (inverted &- 0x0101_0101_0101_0101) & ~inverted & 0x8080_8080_8080_8080 == 0 {
                let n = (64 &- count) >> 3
                let rest = 64 &- count &- (n << 3)
                let keep: UInt64 = rest == 0 ? ~0 : ~((1 << UInt64(rest)) &- 1)
                acc |= (word &>> UInt64(count)) & keep
                count &+= n << 3
                pos &+= n
                return
            }
        }
        try fillByBytes()
    }

    /// Byte by byte: stuffed 0xFF00 pairs, markers and the end of the data.
    @inline(never)
    mutating func fillByBytes() throws(CodecError) {
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
            acc |= b &<< UInt64(56 - count)
            count += 8
        }
    }

    /// The next Huffman-coded symbol (T.81 F.2.2.3). Needs 16 bits in the accumulator.
    @inline(__always)
    mutating func decodeSymbol(_ h: Huffman) throws(CodecError) -> Int {
        let entry = h.lookup[Int(truncatingIfNeeded: acc &>> UInt64(64 - Huffman.lookupBits))]
        if entry != 0 {
            let length = Int(truncatingIfNeeded: entry & 0xFF)
            acc &<<= UInt64(length)
            count &-= length
            return Int(truncatingIfNeeded: entry >> 8)
        }
        return try decodeLongSymbol(h)
    }

    /// Codes longer than the lookup (rare): the canonical search, kept out of the hot path.
    @inline(never)
    mutating func decodeLongSymbol(_ h: Huffman) throws(CodecError) -> Int {
        var l = Huffman.lookupBits + 1
        var code = Int(acc &>> UInt64(64 - l))
        while code > h.maxCode[l] {
            l += 1
            guard l <= 16 else { throw CodecError("\(label): invalid Huffman code") }
            code = Int(acc &>> UInt64(64 - l))
        }
        let index = h.valPtr[l] + code - h.minCode[l]
        guard index >= 0, index < h.values.count else { throw CodecError("\(label): invalid Huffman code") }
        acc &<<= UInt64(l)
        count -= l
        return Int(h.values[index])
    }

    /// RECEIVE and EXTEND (T.81 F.2.2.1) of s bits already in the accumulator.
    @inline(__always)
    mutating func extend(_ s: Int) -> Int {
        guard s > 0 else { return 0 }
        let v = Int(truncatingIfNeeded: acc &>> UInt64(truncatingIfNeeded: 64 &- s))
        acc &<<= UInt64(truncatingIfNeeded: s)
        count &-= s
        return v < 1 &<< (s &- 1) ? v &- (1 &<< s) &+ 1 : v
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
        if ssss &- 1 < 15 { return extend(ssss) }  // 1...15
        if ssss == 0 { return 0 }
        if ssss == 16 { return 32768 }
        throw badCategory(ssss)
    }

    /// For hot loops that keep the accumulator and its bit count in locals (registers, since
    /// nothing takes their address) and hand them over only to refill: at least 57 bits back.
    @inline(__always)
    mutating func refilled(_ acc: UInt64, _ count: Int) throws(CodecError) -> (UInt64, Int) {
        self.acc = acc
        self.count = count
        try fill()
        return (self.acc, self.count)
    }

    /// A lossless difference whose code and extra bits a DifferenceTable did not cover, for
    /// the same hot loops: the difference and the accumulator after it.
    @inline(never)
    mutating func difference(_ h: Huffman, _ acc: UInt64, _ count: Int) throws(CodecError) -> (Int, UInt64, Int) {
        self.acc = acc
        self.count = count
        let d = try difference(h)
        return (d, self.acc, self.count)
    }

    @inline(never)
    func badCategory(_ ssss: Int) -> CodecError { CodecError("\(label): difference category \(ssss)") }

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

/// T.81 K.2: Huffman tables built from the symbol frequencies of the image being encoded.
enum HuffmanBuilder {
    /// Huffman codes for the symbols that occur (at most 256), indexed by symbol.
    static func optimal(_ frequencies: [Int]) -> (counts: [Int], values: [Int], codes: [Int], lengths: [Int]) {
        let used = frequencies.indices.filter { frequencies[$0] > 0 }
        let t = generalHuffman(used.map { frequencies[$0] })
        var codes = [Int](repeating: 0, count: frequencies.count),
            lengths = [Int](repeating: 0, count: frequencies.count)
        for (rank, symbol) in used.enumerated() { codes[symbol] = t.codes[rank]; lengths[symbol] = t.lengths[rank] }
        return (t.counts, t.order.map { used[$0] }, codes, lengths)
    }

    /// T.81 K.2 for n symbols: code sizes limited to 16 with a reserved all-ones code, canonical codes.
    static func generalHuffman(_ freq: [Int]) -> (counts: [Int], order: [Int], codes: [Int], lengths: [Int]) {
        var f = freq + [1]
        let n = f.count
        var codeSize = [Int](repeating: 0, count: n), others = [Int](repeating: -1, count: n)
        while true {
            var v1 = -1, v2 = -1
            for i in 0..<n where f[i] > 0 { if v1 < 0 || f[i] <= f[v1] { v1 = i } }
            for i in 0..<n where f[i] > 0 && i != v1 { if v2 < 0 || f[i] <= f[v2] { v2 = i } }
            if v2 < 0 { break }
            f[v1] += f[v2]; f[v2] = 0
            codeSize[v1] += 1
            var k = v1
            while others[k] >= 0 { k = others[k]; codeSize[k] += 1 }
            others[k] = v2
            codeSize[v2] += 1
            k = v2
            while others[k] >= 0 { k = others[k]; codeSize[k] += 1 }
        }
        var bits = [Int](repeating: 0, count: 64)
        for i in 0..<n where codeSize[i] > 0 { bits[codeSize[i]] += 1 }
        var i = 63
        while i > 16 {
            while bits[i] > 0 {
                var j = i - 2
                while bits[j] == 0 { j -= 1 }
                bits[i] -= 2; bits[i - 1] += 1; bits[j + 1] += 2; bits[j] -= 1
            }
            i -= 1
        }
        while i > 0 && bits[i] == 0 { i -= 1 }
        bits[i] -= 1
        var order: [Int] = []
        for size in 1..<64 { for s in 0..<(n - 1) where codeSize[s] == size { order.append(s) } }
        let counts = Array(bits[1...16])
        order = Array(order.prefix(counts.reduce(0, +)))
        var codes = [Int](repeating: 0, count: n - 1), lengths = [Int](repeating: 0, count: n - 1)
        var code = 0, k = 0
        for l in 1...16 {
            for _ in 0..<counts[l - 1] { codes[order[k]] = code; lengths[order[k]] = l; code += 1; k += 1 }
            code <<= 1
        }
        return (counts, order, codes, lengths)
    }

}

/// Entropy-coded output: bits MSB first, 0xFF stuffed with 0x00, padded with 1 bits. Pending
/// bits wait right-aligned in a 64-bit accumulator (fewer than 8 between writes); whole bytes
/// leave at once.
struct BitWriter {
    var out: [UInt8] = []
    private var acc: UInt64 = 0
    private var count = 0

    /// The low `length` bits of `value` (length <= 32: Huffman codes and extra bits are <= 16).
    mutating func write(_ value: Int, length: Int) {
        let mask: UInt64 = (1 &<< UInt64(truncatingIfNeeded: length)) &- 1
        acc = (acc &<< UInt64(truncatingIfNeeded: length)) | (UInt64(truncatingIfNeeded: value) & mask)
        count &+= length
        while count >= 8 {
            count &-= 8
            let b = UInt8(truncatingIfNeeded: acc &>> UInt64(truncatingIfNeeded: count))
            out.append(b)
            if b == 0xFF { out.append(0x00) }
        }
    }

    mutating func finish() -> [UInt8] {
        if count > 0 { write((1 << (8 - count)) - 1, length: 8 - count) }
        return out
    }
}
