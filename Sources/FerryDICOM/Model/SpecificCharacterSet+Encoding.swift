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
        var input = utf8.map { CChar(bitPattern: $0) }
        // A character becomes at most 4 bytes in any single set (GB18030), plus a transliteration.
        var output = [CChar](repeating: 0, count: utf8.count * 4 + 16)
        var failed = false
        var written = 0
        input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                guard let inBase = inBuf.baseAddress, let outBase = outBuf.baseAddress else { return }
                var inPtr: UnsafeMutablePointer<CChar>? = inBase
                var inLeft = inBuf.count
                var outPtr: UnsafeMutablePointer<CChar>? = outBase
                var outLeft = outBuf.count
                while inLeft > 0 {
                    guard iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft) == -1 else { break }
                    guard errno == EILSEQ, unrepresentable != .fail, inLeft > 0 else {
                        failed = true
                        return
                    }
                    // Drop the character iconv could not take: its lead byte and continuations.
                    repeat {
                        inPtr = inPtr.map { $0 + 1 }
                        inLeft -= 1
                    } while inLeft > 0 && (UInt8(bitPattern: inPtr?.pointee ?? 0) & 0xC0) == 0x80
                }
                written = outBuf.count - outLeft
            }
        }
        if failed { return nil }
        return output.prefix(written).map { UInt8(bitPattern: $0) }
    }
}
