import FerryServices

/// A closed set of words a job file may use for one setting: decoded from its raw value, with
/// an error that lists the words (said as it is read: "expected one of first, newest, none,
/// found "latest"").
public protocol JobWord: RawRepresentable<String>, CaseIterable, Codable, Sendable {}

extension JobWord {
    public init(from decoder: Decoder) throws {
        let word = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: word) else {
            let problem = "expected one of \(Self.words), found \"\(word)\""
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: problem))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The words, for messages: "first, newest, none".
    public static var words: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// Which file is sent when two hold the same SOP Instance UID.
public enum ConflictRule: String, JobWord {
    /// The first file planned; later ones are `conflict`.
    case first
    /// The most recently modified file.
    case newest
    /// None: every file holding the UID is `conflict`.
    case none
}

/// How the destination's TLS certificate is checked (DCMTK's -rc, -vc, -ic).
public enum TLSVerification: String, JobWord {
    case require
    case ifPresent = "if-present"
    case ignore
}

/// The formats of `ferry plan` and `ferry report`.
public enum ReportFormat: String, CaseIterable, Sendable {
    case table, json, csv, md
}

extension ProposalOptions.Preference: JobWord {}

/// Whether a study's files stay together on one association.
public enum StudyAffinity: String, JobWord {
    case oneAssociation = "one-association"
    /// Pieces of a study go to whichever association is free.
    case spread
}

/// The order studies are sent in (`transfer.order`).
public enum SendOrder: String, JobWord {
    /// By Study Instance UID (the plan's order).
    case plan
    /// Most recent Study Date first (migrations usually want recent studies first).
    case newestFirst = "newest-first"
    case oldestFirst = "oldest-first"
}
