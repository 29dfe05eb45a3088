import Glibc

/// Text decoding under (0008,0005) Specific Character Set (PS3.3 C.12.1.1.2, PS3.5 6.1),
/// through glibc's iconv: the single-byte ISO 8859 sets, UTF-8, GB18030/GBK, and ISO 2022
/// code extensions (escape sequences switching G0/G1 within a value: JIS X 0201/0208/0212,
/// KS X 1001, GB 2312, the ISO 8859 parts). Values are matched and shown as Swift strings;
/// bytes are never re-encoded on their way from a file to a peer.
public struct SpecificCharacterSet: Sendable, Equatable, CustomStringConvertible {
    /// The defined terms as the value gives them ("" for the default repertoire).
    public let terms: [String]

    /// `value`: the element's text, backslash-separated terms (nil or empty: ASCII).
    public init(_ value: String?) {
        let parts = (value ?? "").split(separator: "\\", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: " ")
        }
        terms = parts.allSatisfy(\.isEmpty) ? [] : parts
    }

    public static let ascii = SpecificCharacterSet(nil)
    public static let utf8 = SpecificCharacterSet("ISO_IR 192")

    public var description: String { terms.joined(separator: "\\") }

    /// Whether every term is one Ferry can decode.
    public var isSupported: Bool {
        terms.allSatisfy { $0.isEmpty || Self.singleByte[$0] != nil || Self.extensions[$0] != nil }
    }

    /// The text of `bytes`. Bytes that the declared set cannot decode come out as U+FFFD,
    /// never as an error: a name in a bad encoding must not fail a query.
    public func decode<C: Collection<UInt8>>(_ bytes: C) -> String {
        let first = terms.first ?? ""
        if terms.count <= 1, !first.hasPrefix("ISO 2022") {
            if first.isEmpty || first == "ISO_IR 192" || bytes.allSatisfy({ $0 < 0x80 }) {
                return String(decoding: bytes, as: UTF8.self)
            }
            return Self.convert(Array(bytes), from: Self.singleByte[first] ?? "ISO-8859-1")
        }
        return decodeExtensions(Array(bytes))
    }

    /// ISO 2022: segments between escape sequences, each decoded in the set it designates;
    /// the designations return to the first term's at value, line and name-component
    /// delimiters (PS3.5 6.1.2.5.3).
    private func decodeExtensions(_ bytes: [UInt8]) -> String {
        let initial = Self.extensions[terms.first.map { $0.isEmpty ? "ISO 2022 IR 6" : $0 } ?? ""] ?? Designation.ascii
        var g0 = initial.isG1 ? Designation.ascii : initial
        var g1: Designation? = initial.isG1 ? initial : nil
        var out = ""
        var segment: [UInt8] = []
        func flush() {
            guard !segment.isEmpty else { return }
            out += Self.decodeSegment(segment, g0: g0, g1: g1)
            segment.removeAll(keepingCapacity: true)
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x1B, let (designation, length) = Self.escape(bytes, at: i) {
                flush()
                if designation.isG1 { g1 = designation } else { g0 = designation }
                i += length
                continue
            }
            if b == 0x0D || b == 0x0A || b == 0x0C || b == 0x09 || b == 0x5C || b == 0x5E || b == 0x3D,
                g0 != .ascii || g1 != (initial.isG1 ? initial : nil)
            {
                flush()
                g0 = initial.isG1 ? .ascii : initial
                g1 = initial.isG1 ? initial : nil
            }
            segment.append(b)
            i += 1
        }
        flush()
        return out
    }

    /// A character set designated by an ISO 2022 escape sequence (PS3.3 Table C.12-3/4).
    struct Designation: Equatable, Sendable {
        /// iconv's name for the set; for G0 multi-byte sets, the stream is re-wrapped in the
        /// sequence iconv's ISO-2022 converters expect.
        var iconv: String
        var isG1: Bool
        var escape: [UInt8]
        static let ascii = Designation(iconv: "ASCII", isG1: false, escape: [0x1B, 0x28, 0x42])
    }

    private static func decodeSegment(_ bytes: [UInt8], g0: Designation, g1: Designation?) -> String {
        if g0.iconv == "ISO-2022-JP-2" {
            // JIS X 0208/0212 in G0: iconv reads the escape sequence itself.
            return convert(g0.escape + bytes + [0x1B, 0x28, 0x42], from: "ISO-2022-JP-2")
        }
        if let g1, bytes.contains(where: { $0 >= 0x80 }) {
            // JIS X 0201 katakana in G1 is Shift-JIS's single-byte range.
            return convert(bytes, from: g1.iconv == "JIS_X0201" ? "SHIFT_JIS" : g1.iconv)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func escape(_ bytes: [UInt8], at i: Int) -> (Designation, Int)? {
        for (_, d) in extensions where bytes.count - i >= d.escape.count {
            if bytes[i..<(i + d.escape.count)].elementsEqual(d.escape) { return (d, d.escape.count) }
        }
        for d in [jisRoman, jis0208, jis0212] where bytes.count - i >= d.escape.count {
            if bytes[i..<(i + d.escape.count)].elementsEqual(d.escape) { return (d, d.escape.count) }
        }
        return nil
    }

    static let jisRoman = Designation(iconv: "JIS_X0201", isG1: false, escape: [0x1B, 0x28, 0x4A])
    static let jis0208 = Designation(iconv: "ISO-2022-JP-2", isG1: false, escape: [0x1B, 0x24, 0x42])
    static let jis0212 = Designation(iconv: "ISO-2022-JP-2", isG1: false, escape: [0x1B, 0x24, 0x28, 0x44])

    /// Single-byte defined terms without code extensions (PS3.3 Table C.12-2), and the
    /// multi-byte ones without extensions (Table C.12-5).
    static let singleByte: [String: String] = [
        "ISO_IR 6": "ASCII", "ISO_IR 100": "ISO-8859-1", "ISO_IR 101": "ISO-8859-2", "ISO_IR 109": "ISO-8859-3",
        "ISO_IR 110": "ISO-8859-4", "ISO_IR 144": "ISO-8859-5", "ISO_IR 127": "ISO-8859-6",
        "ISO_IR 126": "ISO-8859-7", "ISO_IR 138": "ISO-8859-8", "ISO_IR 148": "ISO-8859-9",
        "ISO_IR 203": "ISO-8859-15", "ISO_IR 13": "SHIFT_JIS", "ISO_IR 166": "TIS-620", "ISO_IR 192": "UTF-8",
        "GB18030": "GB18030", "GBK": "GBK",
    ]

    /// Defined terms with code extensions and the escape sequences that designate them
    /// (PS3.3 Tables C.12-3 and C.12-4).
    static let extensions: [String: Designation] = [
        "ISO 2022 IR 6": .ascii,
        "ISO 2022 IR 100": Designation(iconv: "ISO-8859-1", isG1: true, escape: [0x1B, 0x2D, 0x41]),
        "ISO 2022 IR 101": Designation(iconv: "ISO-8859-2", isG1: true, escape: [0x1B, 0x2D, 0x42]),
        "ISO 2022 IR 109": Designation(iconv: "ISO-8859-3", isG1: true, escape: [0x1B, 0x2D, 0x43]),
        "ISO 2022 IR 110": Designation(iconv: "ISO-8859-4", isG1: true, escape: [0x1B, 0x2D, 0x44]),
        "ISO 2022 IR 144": Designation(iconv: "ISO-8859-5", isG1: true, escape: [0x1B, 0x2D, 0x4C]),
        "ISO 2022 IR 127": Designation(iconv: "ISO-8859-6", isG1: true, escape: [0x1B, 0x2D, 0x47]),
        "ISO 2022 IR 126": Designation(iconv: "ISO-8859-7", isG1: true, escape: [0x1B, 0x2D, 0x46]),
        "ISO 2022 IR 138": Designation(iconv: "ISO-8859-8", isG1: true, escape: [0x1B, 0x2D, 0x48]),
        "ISO 2022 IR 148": Designation(iconv: "ISO-8859-9", isG1: true, escape: [0x1B, 0x2D, 0x4D]),
        "ISO 2022 IR 203": Designation(iconv: "ISO-8859-15", isG1: true, escape: [0x1B, 0x2D, 0x62]),
        "ISO 2022 IR 13": Designation(iconv: "JIS_X0201", isG1: true, escape: [0x1B, 0x29, 0x49]),
        "ISO 2022 IR 166": Designation(iconv: "TIS-620", isG1: true, escape: [0x1B, 0x2D, 0x54]),
        "ISO 2022 IR 87": jis0208,
        "ISO 2022 IR 159": jis0212,
        "ISO 2022 IR 149": Designation(iconv: "EUC-KR", isG1: true, escape: [0x1B, 0x24, 0x29, 0x43]),
        "ISO 2022 IR 58": Designation(iconv: "EUC-CN", isG1: true, escape: [0x1B, 0x24, 0x29, 0x41]),
    ]

    /// iconv from `charset` to UTF-8; undecodable bytes become U+FFFD.
    static func convert(_ bytes: [UInt8], from charset: String) -> String {
        guard !bytes.isEmpty else { return "" }
        let cd = iconv_open("UTF-8", charset)
        guard cd != iconv_t(bitPattern: -1) else { return String(decoding: bytes, as: UTF8.self) }
        defer { iconv_close(cd) }
        // At most 4 UTF-8 bytes per input byte, plus U+FFFD (3 bytes) per skipped byte.
        let out = iconvRun(cd, bytes, capacity: bytes.count * 4 + 16) { _ in (1, [0xEF, 0xBF, 0xBD]) }
        return String(decoding: out ?? [], as: UTF8.self)
    }

    /// Runs `cd` over `bytes` into at most `capacity` bytes. At a sequence it cannot convert,
    /// `skip` (given the rest of the input) says how many bytes to drop and what to write in
    /// their place; nil from it, or a failure of another kind, gives nil.
    static func iconvRun(
        _ cd: iconv_t?, _ bytes: [UInt8], capacity: Int, skip: (ArraySlice<UInt8>) -> (drop: Int, write: [UInt8])?
    ) -> [UInt8]? {
        var input = bytes.map { CChar(bitPattern: $0) }
        var output = [CChar](repeating: 0, count: capacity)
        var written: Int?
        input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                guard let inBase = inBuf.baseAddress, let outBase = outBuf.baseAddress else { return }
                var inPtr: UnsafeMutablePointer<CChar>? = inBase
                var inLeft = inBuf.count
                var outPtr: UnsafeMutablePointer<CChar>? = outBase
                var outLeft = outBuf.count
                while inLeft > 0 {
                    guard iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) == -1 else { break }
                    guard errno == EILSEQ || errno == EINVAL, inLeft > 0,
                        let (drop, replacement) = skip(bytes[(bytes.count - inLeft)...]),
                        drop > 0, drop <= inLeft, replacement.count <= outLeft
                    else { return }
                    inPtr = inPtr.map { $0 + drop }
                    inLeft -= drop
                    for b in replacement {
                        outPtr?.pointee = CChar(bitPattern: b)
                        outPtr = outPtr.map { $0 + 1 }
                    }
                    outLeft -= replacement.count
                }
                written = outBuf.count - outLeft
            }
        }
        return written.map { n in output.prefix(n).map { UInt8(bitPattern: $0) } }
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
