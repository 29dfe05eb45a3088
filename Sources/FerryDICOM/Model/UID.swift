/// Unique identifiers (PS3.5 9.1): digits and dots, at most 64 characters,
/// components without leading zeros.
public enum UIDGrammar {
    /// True when `uid` is a well-formed UID. Callers that build paths or SQL from
    /// a UID must check this first; nothing is ever "sanitised" by substitution.
    public static func isValid(_ uid: String) -> Bool {
        let bytes = Array(uid.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        var componentStart = true
        var componentLeadingZero = false
        for b in bytes {
            if b == 0x2E {  // '.'
                if componentStart { return false }  // empty component
                componentStart = true
                componentLeadingZero = false
            } else if b >= 0x30 && b <= 0x39 {
                if componentLeadingZero { return false }  // "01"
                if componentStart { componentLeadingZero = (b == 0x30) }
                componentStart = false
            } else {
                return false
            }
        }
        return !componentStart
    }

    /// Removes the single trailing NUL (or space, from sloppy writers) that pads a UI value.
    public static func trimmed(_ raw: String) -> String {
        var s = Substring(raw)
        while let last = s.last, last == "\0" || last == " " { s = s.dropLast() }
        while let first = s.first, first == " " { s = s.dropFirst() }
        return String(s)
    }
}

public enum UIDGenerator {
    /// Ferry's implementation class UID (a 2.25 UUID-derived root, PS3.5 B.2).
    public static let implementationClassUID = "2.25.221839591049362312468519722419768364311"
    public static let implementationVersionName = "FERRY_010"

    /// A new UID under 2.25 from 128 random bits (PS3.5 B.2).
    public static func make() -> String {
        var g = SystemRandomNumberGenerator()
        return uuidDerived(high: g.next(), low: g.next())
    }

    /// A deterministic UID under 2.25 from 128 bits (for reproducible sample archives).
    public static func uuidDerived(high: UInt64, low: UInt64) -> String {
        "2.25." + decimal(high: high & 0x7FFF_FFFF_FFFF_FFFF, low: low)
    }

    /// A UID under 2.25 that depends only on `source` and `salt` (FNV-1a, two seeds): the same
    /// derived instance gets the same UID on every retry and every resumed run.
    public static func derived(from source: String, salt: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var h = seed
            for b in (source + "\u{0}" + salt).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
            return h
        }
        return uuidDerived(high: fnv(0xCBF2_9CE4_8422_2325), low: fnv(0x8422_2325_CBF2_9CE4))
    }

    /// 128-bit unsigned to decimal by repeated division of 32-bit words.
    static func decimal(high: UInt64, low: UInt64) -> String {
        var words: [UInt32] = [
            UInt32(high >> 32), UInt32(high & 0xFFFF_FFFF), UInt32(low >> 32), UInt32(low & 0xFFFF_FFFF),
        ]
        var digits: [UInt8] = []
        while words.contains(where: { $0 != 0 }) {
            var remainder: UInt64 = 0
            for i in words.indices {
                let value = remainder << 32 | UInt64(words[i])
                words[i] = UInt32(value / 10)
                remainder = value % 10
            }
            digits.append(UInt8(remainder) + 0x30)
        }
        if digits.isEmpty { return "0" }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}
