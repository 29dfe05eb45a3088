import FerryDICOM

/// FerryMigration's one error: a job that cannot be used, or a manifest that cannot be. The
/// commands answer all of them with exit status 2 (usage or job error) and the description;
/// `underlying` keeps the cause (a YAML or SQLite error, a lower module's error).
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public struct Code: ErrorCode {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A job file, setting or flag that cannot be used.
        public static let invalidJob = Code(rawValue: "invalid-job")
        /// Another run holds the manifest's lock.
        public static let manifestLocked = Code(rawValue: "manifest-locked")
        /// SQLite cannot read the manifest, or its pages fail the integrity check.
        public static let manifestDamaged = Code(rawValue: "manifest-damaged")
        /// status or report found no manifest (they never create one).
        public static let manifestMissing = Code(rawValue: "manifest-missing")
        /// status or report found a manifest of an older schema (they never migrate one).
        public static let manifestOutdated = Code(rawValue: "manifest-outdated")
        /// The destination cannot be reached, or refuses a service a step needs (exit 3).
        public static let destinationUnreachable = Code(rawValue: "destination-unreachable")
        /// A pull's source refuses what the pull needs, so that no retry helps (exit 3).
        public static let sourceRefused = Code(rawValue: "source-refused")
    }

    public var code: Code
    public var message: String
    /// The job file or manifest concerned.
    public var path: String?
    /// The line of the job file at fault, where one is.
    public var line: Int?
    public var underlying: (any Error)?

    public init(
        _ code: Code, _ message: String, path: String? = nil, line: Int? = nil, underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.underlying = underlying
    }

    public var description: String { message }

    static func invalidJob(_ message: String, underlying: (any Error)? = nil) -> MigrationError {
        MigrationError(.invalidJob, message, underlying: underlying)
    }

    static func sourceRefused(_ message: String) -> MigrationError { MigrationError(.sourceRefused, message) }
}
