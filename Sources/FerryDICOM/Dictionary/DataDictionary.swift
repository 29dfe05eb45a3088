/// One entry of the data dictionary (PS3.6 6).
public struct DictionaryEntry: Sendable {
    public let vr: VR
    /// Other VRs the standard allows for the tag ("US or SS", "OB or OW"); resolved from context.
    public let alternativeVRs: [VR]
    public let vm: String
    public let keyword: String
    public let name: String
    public let isRetired: Bool
}

/// The standard data dictionary, parsed on first use from the generated table.
public enum DataDictionary {
    struct Tables: Sendable {
        var exact: [UInt32: DictionaryEntry] = [:]
        /// Repeating groups, e.g. 60xx: (mask of fixed bits, value, entry).
        var masked: [(mask: UInt32, value: UInt32, entry: DictionaryEntry)] = []
        var byKeyword: [String: Tag] = [:]
    }

    static let tables: Tables = {
        var t = Tables()
        for line in table.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 6 else { continue }
            let vrs = f[1].split(separator: "|").compactMap { VR(String($0)) }
            let entry = DictionaryEntry(
                vr: vrs.first ?? .UN, alternativeVRs: Array(vrs.dropFirst()), vm: String(f[2]),
                keyword: String(f[3]), name: String(f[5]), isRetired: f[4] == "R")
            let code = Array(f[0].utf8)
            if code.contains(UInt8(ascii: "x")) {
                var mask: UInt32 = 0, value: UInt32 = 0
                for c in code {
                    mask <<= 4; value <<= 4
                    if c != UInt8(ascii: "x"), let d = UInt32(String(UnicodeScalar(c)), radix: 16) {
                        mask |= 0xF; value |= d
                    }
                }
                t.masked.append((mask, value, entry))
            } else if let raw = UInt32(f[0], radix: 16) {
                t.exact[raw] = entry
                if !entry.keyword.isEmpty { t.byKeyword[entry.keyword] = Tag(rawValue: raw) }
            }
        }
        return t
    }()

    public static func entry(for tag: Tag) -> DictionaryEntry? {
        if let e = tables.exact[tag.rawValue] { return e }
        for m in tables.masked where tag.rawValue & m.mask == m.value { return m.entry }
        return nil
    }

    public static func tag(forKeyword keyword: String) -> Tag? { tables.byKeyword[keyword] }

    /// The command group (PS3.7 E.1), which every DIMSE message carries in implicit VR: a
    /// table of its own, so decoding a C-STORE-RSP does not parse the whole dictionary first.
    static let commandVRs: [UInt32: VR] = [
        0x0000_0002: .UI, 0x0000_0003: .UI, 0x0000_0100: .US, 0x0000_0110: .US, 0x0000_0120: .US, 0x0000_0600: .AE,
        0x0000_0700: .US, 0x0000_0800: .US, 0x0000_0900: .US, 0x0000_0901: .AT, 0x0000_0902: .LO, 0x0000_0903: .US,
        0x0000_1000: .UI, 0x0000_1001: .UI, 0x0000_1002: .US, 0x0000_1005: .AT, 0x0000_1008: .US, 0x0000_1020: .US,
        0x0000_1021: .US, 0x0000_1022: .US, 0x0000_1023: .US, 0x0000_1030: .AE, 0x0000_1031: .US,
    ]

    /// The VR implied by a tag when the encoding does not carry one (implicit VR, PS3.5 A.1).
    public static func impliedVR(for tag: Tag) -> VR {
        if tag.isGroupLength { return .UL }
        if tag.rawValue >> 16 == 0, let vr = commandVRs[tag.rawValue] { return vr }
        if tag.isPrivateCreator { return .LO }
        if tag.isPrivate { return .UN }
        return entry(for: tag)?.vr ?? .UN
    }

    public static var count: Int { tables.exact.count + tables.masked.count }
}
