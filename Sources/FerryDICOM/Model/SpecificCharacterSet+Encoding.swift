import Glibc

extension SpecificCharacterSet {
    /// What an encoding does with a character the set cannot represent (DCMTK's -Ct/-Cd).
    public enum Unrepresentable: Sendable { case fail, transliterate, discard }

    /// Whether text can be encoded in this set: one term without code extensions (ISO 2022
    /// sets are read, never written; DCMTK converts only into single sets too).
    public var canEncode: Bool {
        guard terms.count <= 1 else { return false }
        let term = terms.first ?? ""
        return term.isEmpty || Self.singleByte[term] != nil
    }

    /// `text` in this set's bytes; nil when the set cannot encode it (or any text).
    public func encode(_ text: String, _ unrepresentable: Unrepresentable = .fail) -> [UInt8]? {
        guard canEncode else { return nil }
        let term = terms.first ?? ""
        let utf8 = Array(text.utf8)
        if term == "ISO_IR 192" || utf8.allSatisfy({ $0 < 0x80 }) { return utf8 }
        let target = term.isEmpty ? "ASCII" : (Self.singleByte[term] ?? "ASCII")
        let cd = iconv_open(target + (unrepresentable == .transliterate ? "//TRANSLIT" : ""), "UTF-8")
        guard cd != iconv_t(bitPattern: -1) else { return nil }
        defer { iconv_close(cd) }
        // A character becomes at most 4 bytes in any single set (GB18030), plus a transliteration.
        return Self.iconvRun(cd, utf8, capacity: utf8.count * 4 + 16) { rest in
            guard unrepresentable != .fail, let lead = rest.first else { return nil }
            // Drop the character iconv could not take: its lead byte and continuations.
            let length = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            return (min(length, rest.count), [])
        }
    }
}
