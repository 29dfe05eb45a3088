/// The value of a data element.
public enum DataValue: Sendable {
    /// The value bytes, always little endian (big-endian sources are swapped on read).
    /// A slice of the buffer the element was read from: reading does not copy values.
    case bytes(ArraySlice<UInt8>)
    /// Sequence items (PS3.5 7.5), also UN of undefined length, which is an implicit VR LE sequence (6.2.2).
    case sequence([DataSet])
    /// Encapsulated pixel data (PS3.5 A.4).
    case encapsulated(EncapsulatedPixelData)
}

/// One data element as read or as built.
public struct DataElement: Sendable {
    public var tag: Tag
    public var vr: VR
    public var value: DataValue
    /// The element's length as encoded in the source (0xFFFFFFFF = undefined); nil for built elements.
    public var sourceLength: UInt32?
    /// Byte offset of the element's tag in its source stream; nil for built elements.
    public var sourceOffset: Int?

    public init(tag: Tag, vr: VR, value: DataValue, sourceLength: UInt32? = nil, sourceOffset: Int? = nil) {
        self.tag = tag
        self.vr = vr
        self.value = value
        self.sourceLength = sourceLength
        self.sourceOffset = sourceOffset
    }

    public init(_ tag: Tag, _ vr: VR, bytes: [UInt8]) {
        self.init(tag: tag, vr: vr, value: .bytes(bytes[...]))
    }

    /// A string element (padding is added by the writer).
    public init(_ tag: Tag, _ vr: VR, string: String) {
        self.init(tag, vr, bytes: Array(string.utf8))
    }

    public var bytes: ArraySlice<UInt8>? {
        if case .bytes(let b) = value { return b }
        return nil
    }

    public var items: [DataSet]? {
        if case .sequence(let s) = value { return s }
        return nil
    }

    /// The text of a string value with its padding removed (trailing spaces and NULs, leading spaces except for LT/ST/UT).
    public var string: String? {
        guard let b = bytes else { return nil }
        var end = b.endIndex
        while end > b.startIndex, b[end - 1] == 0x20 || b[end - 1] == 0x00 { end -= 1 }
        var start = b.startIndex
        if vr != .LT && vr != .ST && vr != .UT {
            while start < end, b[start] == 0x20 { start += 1 }
        }
        return String(decoding: b[start..<end], as: UTF8.self)
    }

    /// Unsigned integers of a US/UL/SS/SL/AT value (little endian), or of an IS string.
    public var integers: [Int] {
        guard let b = bytes else { return [] }
        switch vr {
        case .US: return stride(from: b.startIndex, to: b.endIndex - 1, by: 2).map { Int(b.loadLE16($0)) }
        case .SS:
            return stride(from: b.startIndex, to: b.endIndex - 1, by: 2).map { Int(Int16(bitPattern: b.loadLE16($0))) }
        case .UL: return stride(from: b.startIndex, to: b.endIndex - 3, by: 4).map { Int(b.loadLE32($0)) }
        case .SL:
            return stride(from: b.startIndex, to: b.endIndex - 3, by: 4).map { Int(Int32(bitPattern: b.loadLE32($0))) }
        case .IS, .DS:
            return (string ?? "").split(separator: "\\").compactMap { Int($0.trimmingSpaces) }
        default: return []
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}

extension ArraySlice<UInt8> {
    @inline(__always) func loadLE16(_ i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    @inline(__always) func loadLE32(_ i: Int) -> UInt32 {
        UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24
    }
    @inline(__always) func loadLE64(_ i: Int) -> UInt64 { UInt64(loadLE32(i)) | UInt64(loadLE32(i + 4)) << 32 }
}
