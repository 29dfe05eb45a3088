/// The error every malformed input produces: what is wrong, in which file, at which byte, in which element.
public struct DICOMParseError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What kind of defect; extensible, compared by value (like NIO's `FileSystemError.Code`).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

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
        public static let invalidUID = Code(rawValue: "invalid-uid")
        public static let missingAttribute = Code(rawValue: "missing-attribute")
        public static let invalidPixelAttributes = Code(rawValue: "invalid-pixel-attributes")
        public static let encapsulation = Code(rawValue: "encapsulation")
        public static let inflate = Code(rawValue: "inflate")
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

    public init(_ code: Code, _ message: String, path: String? = nil, offset: Int? = nil, tag: Tag? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.tag = tag
    }

    public var description: String { (path.map { "\($0): " } ?? "") + detail }

    /// The description without the path: offset, tag, message and code.
    public var detail: String {
        var s = ""
        if let offset { s += "offset \(offset): " }
        if let tag { s += "\(tag)\(tag.keyword.map { " " + $0 } ?? ""): " }
        return s + message + " [\(code)]"
    }

    func at(path: String) -> DICOMParseError {
        var e = self
        if e.path == nil { e.path = path }
        return e
    }
}
