import FerryDICOM

/// C-FIND attribute matching (PS3.4 C.2.2.2): universal, single value, list of UIDs, wild
/// card, range (DA, TM, DT), sequence matching; a multi-valued candidate matches when one of
/// its values does. Query and candidate are each decoded in their own character set.
public struct AttributeMatcher: Sendable {
    /// PN values compared without regard to case (what most PACS do; DCMTK's dcmqrscp does
    /// not: `--case-sensitive-pn`).
    public var caseInsensitiveNames = true

    public init(caseInsensitiveNames: Bool = true) { self.caseInsensitiveNames = caseInsensitiveNames }

    /// A key read once for a whole request: its text decoded and split, a UID list as a set,
    /// so that matching a candidate costs what the candidate's value does, whatever the key's
    /// size (a list of 30,000 UIDs is not decoded again for every row).
    public struct PreparedKey: Sendable {
        public let tag: Tag
        let test: Test

        enum Test: Sendable {
            case universal
            /// Sequence matching (C.2.2.2.6): one of the candidate's items matches every key.
            case sequence([PreparedKey])
            case uids(Set<String>)
            case temporal([String], VR)
            case text([String], foldCase: Bool)
            case numbers([Double])
            case exact(String)
        }
    }

    /// `key` read in `charset`, ready to match candidates.
    public func prepare(_ key: DataElement, charset: SpecificCharacterSet) -> PreparedKey {
        if case .sequence(let items) = key.value {
            // An empty item is universal.
            guard let keys = items.first, !keys.isEmpty else { return PreparedKey(tag: key.tag, test: .universal) }
            return PreparedKey(tag: key.tag, test: .sequence(keys.elements.map { prepare($0, charset: charset) }))
        }
        let text = value(key, charset: charset)
        if text.isEmpty { return PreparedKey(tag: key.tag, test: .universal) }  // universal matching (C.2.2.2.3)
        let test: PreparedKey.Test
        switch key.vr {
        case .UI:
            // List of UID matching (C.2.2.2.2).
            test = .uids(Set(text.split(separator: "\\").map { String($0).trimmed }))
        case .DA, .TM, .DT:
            test = .temporal(text.split(separator: "\\").map(String.init), key.vr)
        case .PN, .AE, .CS, .LO, .LT, .SH, .ST, .UC, .UR, .UT:
            let alternatives = key.vr.isMultiValuedText ? text.split(separator: "\\").map(String.init) : [text]
            let fold = key.vr == .PN && caseInsensitiveNames
            test = .text(alternatives.map { fold ? $0.trimmed.lowercased() : $0.trimmed }, foldCase: fold)
        case .IS, .DS, .US, .SS, .UL, .SL, .FL, .FD:
            test = .numbers(text.split(separator: "\\").compactMap { Double(String($0).trimmed) })
        default:
            test = .exact(text.trimmed)
        }
        return PreparedKey(tag: key.tag, test: test)
    }

    /// Whether `candidate` (nil: the attribute is absent) matches the prepared key.
    public func matches(_ key: PreparedKey, candidate: DataElement?, candidateCharset: SpecificCharacterSet) -> Bool {
        let values: [String]
        switch key.test {
        case .universal: return true
        case .sequence(let keys):
            guard let items = candidate?.items else { return false }
            return items.contains { item in
                keys.allSatisfy { matches($0, candidate: item[$0.tag], candidateCharset: candidateCharset) }
            }
        default:
            guard let candidate else { return false }
            values = self.values(candidate, charset: candidateCharset)
        }
        switch key.test {
        case .uids(let wanted): return values.contains { wanted.contains($0) }
        case .temporal(let alternatives, let vr):
            return values.contains { v in alternatives.contains { Self.matchesTemporal($0, v, vr: vr) } }
        case .text(let patterns, let fold):
            return values.contains { v in
                let subject = fold ? v.lowercased() : v
                return patterns.contains { Self.wildcard($0, subject) }
            }
        case .numbers(let wanted): return values.contains { v in Double(v).map { wanted.contains($0) } ?? false }
        case .exact(let text): return values.contains { $0 == text }
        case .universal, .sequence: return true  // answered above
        }
    }

    /// Whether `candidate` (nil: the attribute is absent) matches the key `query`.
    public func matches(
        _ query: DataElement, queryCharset: SpecificCharacterSet, candidate: DataElement?,
        candidateCharset: SpecificCharacterSet
    ) -> Bool {
        matches(prepare(query, charset: queryCharset), candidate: candidate, candidateCharset: candidateCharset)
    }

    /// The element's text (numbers in decimal), decoded in `charset`.
    func value(_ element: DataElement, charset: SpecificCharacterSet) -> String {
        switch element.vr {
        case .US, .SS, .UL, .SL:
            return element.integers.map(String.init).joined(separator: "\\")
        default:
            guard let bytes = element.bytes else { return "" }
            var end = bytes.endIndex
            while end > bytes.startIndex, bytes[end - 1] == 0x20 || bytes[end - 1] == 0 { end -= 1 }
            var start = bytes.startIndex
            while start < end, bytes[start] == 0x20 { start += 1 }
            return charset.decode(bytes[start..<end])
        }
    }

    /// The candidate's values, each trimmed of padding.
    func values(_ element: DataElement, charset: SpecificCharacterSet) -> [String] {
        let text = value(element, charset: charset)
        guard
            element.vr.isMultiValuedText || element.vr == .UI || element.vr == .DA || element.vr == .TM
                || element.vr == .DT || element.vr == .IS || element.vr == .DS
        else { return [text] }
        return text.split(separator: "\\", omittingEmptySubsequences: false).map { String($0).trimmed }
    }

    /// `*` any run, `?` one character (C.2.2.2.4); anything else is itself.
    static func wildcard(_ pattern: String, _ subject: String) -> Bool {
        let p = Array(pattern), s = Array(subject)
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "?" || p[pi] == s[si] {
                pi += 1
                si += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                mark = si
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Single value or range matching of dates, times and date-times (C.2.2.2.5): `a-b`,
    /// `a-`, `-b`; values compared in a normalized form, so `20240102` equals `2024.01.02`
    /// (an ACR-NEMA date) and `1030` lies between `10` and `11`.
    static func matchesTemporal(_ query: String, _ value: String, vr: VR) -> Bool {
        let v = normalize(value, vr: vr)
        guard !v.isEmpty else { return false }
        guard let dash = query.firstIndex(of: "-"), !(vr == .DT && isOffsetDash(query, dash)) else {
            let q = normalize(query, vr: vr)
            // A single time or date-time matches the values it is a prefix of (a less precise
            // value stands for its whole span), a date must be equal.
            return vr == .DA ? v == q : v.hasPrefix(q)
        }
        let lower = normalize(String(query[..<dash]), vr: vr)
        let upper = normalize(String(query[query.index(after: dash)...]), vr: vr)
        if !lower.isEmpty, v < lower { return false }
        if !upper.isEmpty, v > upper, !v.hasPrefix(upper) { return false }
        return true
    }

    /// Combined date and time matching (PS3.4 C.2.2.2.5.1): a DA range and a TM range read
    /// as one date-time range, `20240101-20240102` with `2200-0600` meaning from 22:00 on the
    /// first to 06:00 on the second; `value` is the candidate's date followed by its time.
    public static func matchesCombined(date: String, time: String, value: String) -> Bool {
        func parts(_ s: String) -> (String, String) {
            guard let dash = s.firstIndex(of: "-") else { return (s, s) }
            return (String(s[..<dash]), String(s[s.index(after: dash)...]))
        }
        let (d0, d1) = parts(normalize(date, vr: .DA))
        let (t0, t1) = parts(normalize(time, vr: .TM))
        let lower = d0.isEmpty ? "" : d0 + t0
        let upper = d1.isEmpty ? "" : d1 + (t1.isEmpty ? "235959.999999" : t1)
        let v = normalize(value, vr: .DT)
        if !lower.isEmpty, v < lower { return false }
        if !upper.isEmpty, v > upper, !v.hasPrefix(upper) { return false }
        return true
    }

    /// A '-' inside a DT value that starts a UTC offset (after the date part) is no range.
    private static func isOffsetDash(_ query: String, _ dash: String.Index) -> Bool {
        query.distance(from: query.startIndex, to: dash) >= 8 && query[query.index(after: dash)...].count == 4
            && !query[query.index(after: dash)...].contains("-")
    }

    static func normalize(_ value: String, vr: VR) -> String {
        var s = value.trimmed
        switch vr {
        case .DA: s.removeAll { $0 == "." }
        case .TM: s.removeAll { $0 == ":" }
        case .DT:
            // The UTC offset is dropped: Ferry compares the values as written.
            if let sign = s.lastIndex(where: { $0 == "+" || $0 == "-" }), s.distance(from: s.startIndex, to: sign) >= 4
            {
                s = String(s[..<sign])
            }
        default: break
        }
        return s
    }
}

extension VR {
    /// Text VRs whose value may hold several values separated by backslashes.
    var isMultiValuedText: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .PN, .SH, .TM, .UC, .UI: true
        default: false
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
