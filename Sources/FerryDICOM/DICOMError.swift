import Glibc

/// What kind of failure an error is: extensible, compared by value (like NIO's
/// `FileSystemError.Code`). Each module's one error type has its own codes.
public protocol ErrorCode: RawRepresentable<String>, Hashable, Sendable, CustomStringConvertible {
    init(rawValue: String)
}

extension ErrorCode {
    public var description: String { rawValue }
}

/// FerryDICOM's one error: what is wrong (a code and a message), in which file, at which byte,
/// in which element, and the system's reason (errno) when a read or write failed. Every
/// malformed input produces one, and so does a file that cannot be read or written.
public struct DICOMError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: ErrorCode {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// Neither a Part 10 preamble nor a plausible first element.
        public static let notDICOM = Code(rawValue: "not-dicom")
        /// The file ends inside an element, a sequence or the file meta.
        public static let truncated = Code(rawValue: "truncated")
        /// A declared value length runs past the end of its container.
        public static let lengthExceedsRemaining = Code(rawValue: "length-exceeds-remaining")
        public static let invalidVR = Code(rawValue: "invalid-vr")
        public static let nestingTooDeep = Code(rawValue: "nesting-too-deep")
        /// Missing, extra or misplaced item and sequence delimiters.
        public static let badDelimiter = Code(rawValue: "bad-delimiter")
        public static let invalidFileMeta = Code(rawValue: "invalid-file-meta")
        public static let unsupportedTransferSyntax = Code(rawValue: "unsupported-transfer-syntax")
        public static let missingAttribute = Code(rawValue: "missing-attribute")
        public static let invalidPixelAttributes = Code(rawValue: "invalid-pixel-attributes")
        public static let encapsulation = Code(rawValue: "encapsulation")
        public static let inflate = Code(rawValue: "inflate")
        /// A read, write or fsync failed; `errno` says why.
        public static let io = Code(rawValue: "io")
        public static let valueTooLong = Code(rawValue: "value-too-long")
        /// Internal: a header read needs more of the file; never escapes the reader.
        static let needMoreData = Code(rawValue: "need-more-data")
    }

    public var code: Code
    public var message: String
    public var path: String?
    /// Byte offset in the file (or, for deflated data sets, in the inflated stream; see `message`).
    public var offset: Int?
    public var tag: Tag?
    /// The underlying cause of an `.io` error.
    public var errno: Int32?

    public init(
        _ code: Code, _ message: String, path: String? = nil, offset: Int? = nil, tag: Tag? = nil, errno: Int32? = nil
    ) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.tag = tag
        self.errno = errno
    }

    public var description: String { (path.map { "\($0): " } ?? "") + detail }

    /// The description without the path: offset, tag, message and code.
    public var detail: String {
        var s = ""
        if let offset { s += "offset \(offset): " }
        if let tag { s += "\(tag)\(tag.keyword.map { " " + $0 } ?? ""): " }
        s += message
        if let errno { s += ": " + String(cString: strerror(errno)) }
        return s + " [\(code)]"
    }

    func at(path: String) -> DICOMError {
        var e = self
        if e.path == nil { e.path = path }
        return e
    }
}
