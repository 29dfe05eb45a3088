import FerryDICOM
import FerryNetwork

/// FerryServices' one error: why a file could not be sent, why a received instance was not
/// stored, or why a configuration file was refused. The code classifies it (the retry policy
/// decides on codes), the message says what happened, the context fields say where, and
/// `underlying` keeps the lower module's error (`DICOMError`, `CodecError`,
/// `AssociationError`) with its type. Two errors are equal when they say the same thing.
public struct ServiceError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: ErrorCode {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// No accepted presentation context can carry the file, and no allowed conversion
        /// reaches one.
        public static let noContext = Code(rawValue: "no-context")
        /// The file cannot be read, or is no sendable instance.
        public static let unreadableFile = Code(rawValue: "unreadable-file")
        /// Re-encoding the file for its route failed (its data set or its pixel data).
        public static let preparation = Code(rawValue: "preparation")
        /// The association failed before the store's response: the outcome is unknown (the
        /// peer may have stored the instance).
        public static let association = Code(rawValue: "association")
        /// No association could be opened to the destination.
        public static let unreachable = Code(rawValue: "unreachable")
        /// The journal (the manifest) could not record a send: nothing more may be sent.
        public static let journal = Code(rawValue: "journal")
        /// A receiver refused an instance; `status` is the C-STORE-RSP status it answers.
        public static let refused = Code(rawValue: "refused")
        /// A configuration file (DCMTK asconfig) is malformed; `path` and `line` say where.
        public static let configuration = Code(rawValue: "configuration")
    }

    public var code: Code
    public var message: String
    public var path: String?
    public var line: Int?
    public var status: DIMSEStatus?
    public var underlying: (any Error)?

    public init(
        _ code: Code, _ message: String, path: String? = nil, line: Int? = nil, status: DIMSEStatus? = nil,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.line = line
        self.status = status
        self.underlying = underlying
    }

    /// An error of a lower module, classified: its own description is the message.
    public init(_ code: Code, wrapping error: any Error, path: String? = nil) {
        self.init(code, "\(error)", path: path, underlying: error)
    }

    public var description: String {
        switch code {
        case .configuration: "\(path ?? "<config>"):\(line ?? 0): \(message)"
        case .refused: "\(status.map { "\($0)" } ?? "refused"): \(message)"
        default: (path.map { "\($0): " } ?? "") + message
        }
    }

    public static func == (a: ServiceError, b: ServiceError) -> Bool {
        a.code == b.code && a.message == b.message && a.path == b.path && a.line == b.line && a.status == b.status
    }

    static func configuration(path: String, line: Int, _ message: String) -> ServiceError {
        ServiceError(.configuration, message, path: path, line: line)
    }

    /// A receiver's refusals, each answered with its status.
    static func outOfResources(_ what: String) -> ServiceError {
        ServiceError(.refused, what, status: DIMSEStatus(0xA700))
    }
    static func cannotUnderstand(_ what: String) -> ServiceError {
        ServiceError(.refused, what, status: DIMSEStatus(0xC000))
    }
    static func doesNotMatch(_ what: String) -> ServiceError {
        ServiceError(.refused, what, status: DIMSEStatus(0xA900))
    }
}
