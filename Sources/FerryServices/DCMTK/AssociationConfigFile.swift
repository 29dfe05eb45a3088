import FerryDICOM
import FerryNetwork

/// DCMTK association negotiation profiles (the "asconfig" format of storescu -xf and
/// storescp -xf, e.g. Debian's /etc/dcmtk/storescu.cfg):
///
///     [[TransferSyntaxes]]     [Name] TransferSyntax1 = LittleEndianExplicit ...
///     [[PresentationContexts]] [Name] PresentationContext1 = CTImageStorage\Name ...
///     [[SCPSCURoleSelection]]  [Name] Role1 = SOPClass\SCU|SCP|BOTH   (optional)
///     [[Profiles]]             [Name] PresentationContexts = Name  (SCPSCURoleSelection = Name)
///
/// Keys are case-insensitive, values are DCMTK symbolic names or dotted UIDs.
public struct AssociationConfigFile: Sendable {
    public struct Profile: Sendable {
        public var name: String
        /// Abstract syntax and its transfer syntaxes, in file order.
        public var contexts: [(abstractSyntax: String, transferSyntaxes: [String])]
        public var roles: [RoleSelection]
    }

    public private(set) var profiles: [String: Profile] = [:]

    public init(contentsOf path: String) throws {
        guard let bytes = try? FileBytes.readAll(path) else {
            throw ServiceError.configuration(path: path, line: 0, "cannot read the file")
        }
        try self.init(text: String(decoding: bytes, as: UTF8.self), file: path)
    }

    public init(text: String, file: String = "<config>") throws {
        let sections = try Self.sections(of: text, file: file)
        let syntaxLists = try Self.transferSyntaxLists(sections["TRANSFERSYNTAXES"] ?? [:], file: file)
        let contextLists = try Self.contextLists(
            sections["PRESENTATIONCONTEXTS"] ?? [:], syntaxLists: syntaxLists, file: file)
        let roleLists = try Self.roleLists(sections["SCPSCUROLESELECTION"] ?? [:], file: file)
        for (name, entries) in sections["PROFILES"] ?? [:] {
            profiles[name] = try Self.resolveProfile(
                name, entries, contextLists: contextLists, roleLists: roleLists, file: file)
        }
    }

    /// The key/value pairs of one subsection, in file order, with their line numbers.
    private typealias Entries = [(key: String, value: String, line: Int)]

    /// The file's sections (level 1) -> subsections (level 2) -> entries, names upper-cased.
    private static func sections(of text: String, file: String) throws -> [String: [String: Entries]] {
        var sections: [String: [String: Entries]] = [:]
        var section: String?
        var subsection: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[[") {
                guard line.hasSuffix("]]") else {
                    throw ServiceError.configuration(path: file, line: lineNumber, "unterminated section \(line)")
                }
                section = String(line.dropFirst(2).dropLast(2)).trimmingCharacters(in: " ").uppercased()
                subsection = nil
            } else if line.hasPrefix("[") {
                guard line.hasSuffix("]"), section != nil else {
                    throw ServiceError.configuration(
                        path: file, line: lineNumber, "subsection \(line) outside a [[section]]")
                }
                subsection = String(line.dropFirst().dropLast()).trimmingCharacters(in: " ").uppercased()
            } else if let eq = line.firstIndex(of: "=") {
                guard let s = section, let sub = subsection else {
                    throw ServiceError.configuration(path: file, line: lineNumber, "entry outside a [subsection]")
                }
                let key = String(line[..<eq]).trimmingCharacters(in: " \t").uppercased()
                let value = String(line[line.index(after: eq)...]).trimmingCharacters(in: " \t")
                sections[s, default: [:]][sub, default: []].append((key, value, lineNumber))
            } else {
                throw ServiceError.configuration(path: file, line: lineNumber, "cannot parse \"\(line)\"")
            }
        }
        return sections
    }

    private static func uid(_ name: String, line: Int, file: String) throws -> String {
        guard let u = DCMTKNames.uid(for: name) else {
            throw ServiceError.configuration(path: file, line: line, "unknown UID name \"\(name)\"")
        }
        return u
    }

    /// [[TransferSyntaxes]]: each list's UIDs, in the order of the keys' numbers.
    private static func transferSyntaxLists(_ lists: [String: Entries], file: String) throws -> [String: [String]] {
        var syntaxLists: [String: [String]] = [:]
        for (name, entries) in lists {
            syntaxLists[name] = try entries.sorted { Self.index($0.key) < Self.index($1.key) }.map {
                try uid($0.value, line: $0.line, file: file)
            }
        }
        return syntaxLists
    }

    /// [[PresentationContexts]]: each list's abstract syntaxes with the transfer syntax list they name.
    private static func contextLists(
        _ lists: [String: Entries], syntaxLists: [String: [String]], file: String
    ) throws -> [String: [(String, [String])]] {
        var contextLists: [String: [(String, [String])]] = [:]
        for (name, entries) in lists {
            contextLists[name] = try entries.sorted { Self.index($0.key) < Self.index($1.key) }.map { e in
                let parts = e.value.split(separator: "\\", maxSplits: 1).map { String($0).trimmingCharacters(in: " ") }
                guard parts.count == 2 else {
                    throw ServiceError.configuration(
                        path: file, line: e.line, "expected AbstractSyntax\\TransferSyntaxList, got \"\(e.value)\"")
                }
                guard let list = syntaxLists[parts[1].uppercased()] else {
                    throw ServiceError.configuration(
                        path: file, line: e.line,
                        "transfer syntax list \"\(parts[1])\" is not defined in [[TransferSyntaxes]]")
                }
                return (try uid(parts[0], line: e.line, file: file), list)
            }
        }
        return contextLists
    }

    /// [[SCPSCURoleSelection]]: each list's roles, in file order.
    private static func roleLists(_ lists: [String: Entries], file: String) throws -> [String: [RoleSelection]] {
        var roleLists: [String: [RoleSelection]] = [:]
        for (name, entries) in lists {
            roleLists[name] = try entries.map { e in
                let parts = e.value.split(separator: "\\").map { String($0).trimmingCharacters(in: " ").uppercased() }
                guard parts.count == 2, ["SCU", "SCP", "BOTH"].contains(parts[1]) else {
                    throw ServiceError.configuration(
                        path: file, line: e.line, "expected SOPClass\\SCU|SCP|BOTH, got \"\(e.value)\"")
                }
                let sop = try uid(
                    e.value.split(separator: "\\")[0].trimmingCharacters(in: " "), line: e.line, file: file)
                return RoleSelection(sopClass: sop, scu: parts[1] != "SCP", scp: parts[1] != "SCU")
            }
        }
        return roleLists
    }

    /// One [[Profiles]] subsection, its lists resolved by name.
    private static func resolveProfile(
        _ name: String, _ entries: Entries, contextLists: [String: [(String, [String])]],
        roleLists: [String: [RoleSelection]], file: String
    ) throws -> Profile {
        var profile = Profile(name: name, contexts: [], roles: [])
        for e in entries {
            switch e.key {
            case "PRESENTATIONCONTEXTS":
                guard let list = contextLists[e.value.uppercased()] else {
                    throw ServiceError.configuration(
                        path: file, line: e.line, "presentation context list \"\(e.value)\" is not defined"
                    )
                }
                profile.contexts = list.map { (abstractSyntax: $0.0, transferSyntaxes: $0.1) }
            case "SCPSCUROLESELECTION":
                guard let list = roleLists[e.value.uppercased()] else {
                    throw ServiceError.configuration(
                        path: file, line: e.line, "role selection list \"\(e.value)\" is not defined")
                }
                profile.roles = list
            case "SOPCLASSEXTENDEDNEGOTIATION":
                continue  // storage needs none; accepted and ignored, as DCMTK storescu does
            default:
                throw ServiceError.configuration(path: file, line: e.line, "unknown profile entry \(e.key)")
            }
        }
        return profile
    }

    public func profile(_ name: String) -> Profile? { profiles[name.uppercased()] }

    /// "PresentationContext12" -> 12, so entries keep their numeric order.
    private static func index(_ key: String) -> Int {
        Int(key.drop { !$0.isNumber }) ?? 0
    }
}
