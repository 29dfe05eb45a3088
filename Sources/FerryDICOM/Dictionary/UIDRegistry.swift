/// One registered UID (PS3.6 Annex A).
public struct UIDEntry: Sendable {
    public let uid: String
    public let kind: String  // "SOP Class", "Transfer Syntax", ...
    public let keyword: String
    public let name: String
    public let isRetired: Bool
    /// A Storage SOP class: one a C-STORE carries (PS3.4 Annex B, and the Non-Patient Object
    /// Storage classes), as DCMTK and pynetdicom classify them (scripts/generate-dictionary.py).
    public let isStorageSOPClass: Bool
}

/// The registry of well-known UIDs, parsed on first use from the generated table.
public enum UIDRegistry {
    static let entries: [String: UIDEntry] = {
        var result: [String: UIDEntry] = [:]
        for line in table.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count >= 5 else { continue }
            let e = UIDEntry(
                uid: String(f[0]), kind: String(f[1]), keyword: String(f[2]),
                name: String(f[4]), isRetired: f[3] == "R", isStorageSOPClass: f.count > 5 && f[5] == "Storage")
            result[e.uid] = e
        }
        return result
    }()

    public static func entry(for uid: String) -> UIDEntry? { entries[uid] }
    public static func name(of uid: String) -> String { entries[uid]?.name ?? uid }

    public static let verificationSOPClass = "1.2.840.10008.1.1"
    public static let storageCommitmentPushModelSOPClass = "1.2.840.10008.1.20.1"

    /// Every Storage SOP class in the registry, sorted by UID.
    public static let storageSOPClasses: [UIDEntry] =
        entries.values.filter(\.isStorageSOPClass).sorted { $0.uid.utf8.lexicographicallyPrecedes($1.uid.utf8) }
}
