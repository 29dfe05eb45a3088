/// How a data set is encoded: the parts of a transfer syntax the parser needs (PS3.5 7.1).
public struct Encoding: Hashable, Sendable {
    public var explicitVR: Bool
    public var littleEndian: Bool
    public static let implicitLittle = Encoding(explicitVR: false, littleEndian: true)
    public static let explicitLittle = Encoding(explicitVR: true, littleEndian: true)
    public static let explicitBig = Encoding(explicitVR: true, littleEndian: false)

    public init(explicitVR: Bool, littleEndian: Bool) {
        self.explicitVR = explicitVR
        self.littleEndian = littleEndian
    }
    public init(_ ts: TransferSyntax) { self.init(explicitVR: ts.isExplicitVR, littleEndian: ts.isLittleEndian) }
}

/// Where the top-level Pixel Data element starts, found by a header-only parse.
public struct PixelDataLocation: Sendable, Codable, Equatable {
    /// Offset of the (7FE0,0010) tag in the file.
    public var elementOffset: Int
    /// Offset of the first value byte.
    public var valueOffset: Int
    /// Declared value length; nil when undefined (encapsulated).
    public var length: Int?

    public init(elementOffset: Int, valueOffset: Int, length: Int?) {
        self.elementOffset = elementOffset
        self.valueOffset = valueOffset
        self.length = length
    }
}

/// Parses a data set from a byte buffer. Every length is checked against the bytes that
/// remain before anything is sliced or allocated; nesting stops at `maxDepth`.
struct DataSetParser {
    static let maxDepth = 64
    static let undefinedLength: UInt32 = 0xFFFF_FFFF

    let storage: [UInt8]
    /// True when `storage` holds the whole stream; otherwise running out means "read more".
    let isComplete: Bool
    /// Offset of `storage[0]` in the file, for error messages and pixel data location.
    let base: Int
    /// Header-only mode: stop at the first top-level tag at or after (7FE0,0010).
    var stopAtPixelData = false
    private(set) var pixelData: PixelDataLocation?
    /// Pixel Representation seen so far, to resolve "US or SS" in implicit VR (as DCMTK does).
    private var signedPixels = false
    /// Deviations from PS3.5 read the way DCMTK reads them. A data set with one is re-encoded
    /// before it is sent, never passed on as its bytes are.
    private(set) var quirks: [String] = []

    /// The size of the whole stream `storage` is a prefix of (the file's size), when known: a
    /// length past it is a defect at once, not a reason to read more of the file.
    var streamSize: Int?

    init(storage: [UInt8], isComplete: Bool, base: Int, streamSize: Int? = nil) {
        self.storage = storage
        self.isComplete = isComplete
        self.base = base
        self.streamSize = streamSize
    }

    private struct Header {
        var tag: Tag
        var vr: VR
        var length: UInt32
        var headerLength: Int
    }

    // MARK: Errors

    private func error(_ code: DICOMError.Code, _ message: String, at pos: Int, tag: Tag? = nil) -> DICOMError {
        DICOMError(code, message, offset: base + pos, tag: tag)
    }

    /// Running out of bytes: either the file is truncated, or (header mode) more must be read.
    private func outOfBytes(
        _ message: String, at pos: Int, limit: Int, tag: Tag?, needs end: Int? = nil
    )
        -> DICOMError
    {
        if let end, let streamSize, end > streamSize {
            return error(.truncated, message + " (past the end of the file, \(streamSize) bytes)", at: pos, tag: tag)
        }
        if !isComplete && limit >= storage.count { return error(.needMoreData, message, at: pos, tag: tag) }
        if limit >= storage.count { return error(.truncated, message, at: pos, tag: tag) }
        return error(.lengthExceedsRemaining, message, at: pos, tag: tag)
    }

    // MARK: Primitive reads (callers have checked bounds)

    @inline(__always) private func u16(_ i: Int, _ le: Bool) -> UInt16 {
        le ? UInt16(storage[i]) | UInt16(storage[i + 1]) << 8 : UInt16(storage[i]) << 8 | UInt16(storage[i + 1])
    }
    @inline(__always) private func u32(_ i: Int, _ le: Bool) -> UInt32 {
        le
            ? UInt32(u16(i, true)) | UInt32(u16(i + 2, true)) << 16
            : UInt32(u16(i, false)) << 16 | UInt32(u16(i + 2, false))
    }

    private func readHeader(at pos: Int, limit: Int, _ enc: Encoding) throws(DICOMError) -> Header {
        guard pos + 8 <= limit else {
            throw outOfBytes("element header needs 8 bytes, \(limit - pos) remain", at: pos, limit: limit, tag: nil)
        }
        let tag = Tag(u16(pos, enc.littleEndian), u16(pos + 2, enc.littleEndian))
        // Items and delimiters have no VR in any encoding (PS3.5 7.5).
        if tag.group == 0xFFFE || !enc.explicitVR {
            let vr = tag.group == 0xFFFE ? VR.UN : impliedVR(tag)
            return Header(tag: tag, vr: vr, length: u32(pos + 4, enc.littleEndian), headerLength: 8)
        }
        let a = storage[pos + 4], b = storage[pos + 5]
        guard (0x41...0x5A).contains(a), (0x41...0x5A).contains(b) else {
            throw error(.invalidVR, "bytes \(hex2(a)) \(hex2(b)) are not a VR", at: pos + 4, tag: tag)
        }
        let vr = VR(a, b)
        if vr.hasLongLength {
            guard pos + 12 <= limit else {
                throw outOfBytes(
                    "element header needs 12 bytes, \(limit - pos) remain", at: pos, limit: limit, tag: tag)
            }
            return Header(tag: tag, vr: vr, length: u32(pos + 8, enc.littleEndian), headerLength: 12)
        }
        return Header(tag: tag, vr: vr, length: UInt32(u16(pos + 6, enc.littleEndian)), headerLength: 8)
    }

    private func impliedVR(_ tag: Tag) -> VR {
        let vr = DataDictionary.impliedVR(for: tag)
        if tag.rawValue >> 16 == 0 { return vr }  // command elements have no alternatives
        guard let entry = DataDictionary.entry(for: tag), !entry.alternativeVRs.isEmpty else { return vr }
        if entry.alternativeVRs.contains(.SS) && signedPixels { return .SS }
        if entry.vr == .OB && entry.alternativeVRs.contains(.OW) { return .OW }  // implicit pixel data is OW
        return vr
    }

    // MARK: Data sets

    /// Parses elements from `pos` up to `limit`, or up to an item delimiter when `delimited`.
    /// Returns the data set and the offset after it (after the delimiter, if any).
    mutating func parseDataSet(
        from start: Int, to limit: Int, depth: Int, delimited: Bool, _ enc: Encoding
    ) throws(DICOMError) -> (DataSet, Int) {
        var ds = DataSet()
        var pos = start
        while true {
            if pos >= limit {
                if delimited { throw outOfBytes("item has no delimitation item", at: pos, limit: limit, tag: nil) }
                return (ds, pos)
            }
            let h = try readHeader(at: pos, limit: limit, enc)
            if h.tag == .itemDelimitationItem {
                guard delimited else {
                    throw error(
                        .badDelimiter, "item delimitation item outside an undefined-length item", at: pos, tag: h.tag)
                }
                return (ds, pos + 8)
            }
            if h.tag.group == 0xFFFE {
                throw error(.badDelimiter, "unexpected \(h.tag) in a data set", at: pos, tag: h.tag)
            }
            if depth == 0 && stopAtPixelData && h.tag >= .pixelData {
                if h.tag == .pixelData {
                    pixelData = PixelDataLocation(
                        elementOffset: base + pos, valueOffset: base + pos + h.headerLength,
                        length: h.length == Self.undefinedLength ? nil : Int(h.length))
                }
                return (ds, pos)
            }
            let (element, next) = try parseValue(h, at: pos, limit: limit, depth: depth, enc)
            if element.tag == .pixelRepresentation { signedPixels = element.integers.first == 1 }
            ds.appendRead(element)
            pos = next
        }
    }

    /// Parses the single element at `pos` (used for the file meta group).
    mutating func parseOneElement(at pos: Int, enc: Encoding) throws(DICOMError) -> (DataElement, Int) {
        let h = try readHeader(at: pos, limit: storage.count, enc)
        return try parseValue(h, at: pos, limit: storage.count, depth: 0, enc)
    }

    private mutating func parseValue(
        _ h: Header, at pos: Int, limit: Int, depth: Int, _ enc: Encoding
    ) throws(DICOMError) -> (DataElement, Int) {
        let valueStart = pos + h.headerLength
        let isSequence = h.vr == .SQ
        if h.length == Self.undefinedLength {
            if isSequence || h.vr == .UN {
                // UN of undefined length holds an implicit VR little endian sequence (PS3.5 6.2.2).
                let itemEncoding = isSequence ? enc : .implicitLittle
                let (items, next) = try parseItems(
                    from: valueStart, to: limit, outer: limit, depth: depth + 1, delimited: true, itemEncoding,
                    tag: h.tag)
                return (
                    DataElement(
                        tag: h.tag, vr: .SQ, value: .sequence(items), sourceLength: h.length, sourceOffset: base + pos),
                    next
                )
            }
            if h.tag == .pixelData && (h.vr == .OB || h.vr == .OW) {
                let (pixels, next) = try parseEncapsulated(from: valueStart, to: limit, enc)
                return (
                    DataElement(
                        tag: h.tag, vr: .OB, value: .encapsulated(pixels), sourceLength: h.length,
                        sourceOffset: base + pos), next
                )
            }
            throw error(.invalidVR, "undefined length on a \(h.vr) element", at: pos, tag: h.tag)
        }
        let length = Int(h.length)
        guard length <= limit - valueStart else {
            throw outOfBytes(
                "value length \(length) exceeds the \(max(0, limit - valueStart)) bytes that remain", at: pos,
                limit: limit, tag: h.tag, needs: valueStart + length)
        }
        let end = valueStart + length
        if isSequence {
            let (items, itemsEnd) = try parseItems(
                from: valueStart, to: end, outer: limit, depth: depth + 1, delimited: false, enc, tag: h.tag)
            return (
                DataElement(
                    tag: h.tag, vr: .SQ, value: .sequence(items), sourceLength: h.length, sourceOffset: base + pos),
                max(end, itemsEnd)
            )
        }
        var value = storage[valueStart..<end]
        if !enc.littleEndian && h.vr.unitSize > 1 { value = Self.swapped(value, unit: h.vr.unitSize) }
        return (
            DataElement(tag: h.tag, vr: h.vr, value: .bytes(value), sourceLength: h.length, sourceOffset: base + pos),
            end
        )
    }

    /// The items of a sequence ending at `limit` (or at its delimiter), inside a container
    /// ending at `outer`. An item of a defined-length sequence whose own length runs past the
    /// sequence but not past the container is read to its own end, and the sequence ends
    /// there: DCMTK reads such files (DICOMDIRs written by some media creators) this way.
    private mutating func parseItems(
        from start: Int, to limit: Int, outer: Int, depth: Int, delimited: Bool, _ enc: Encoding, tag: Tag
    ) throws(DICOMError) -> ([DataSet], Int) {
        guard depth <= Self.maxDepth else {
            throw error(.nestingTooDeep, "sequences nested deeper than \(Self.maxDepth)", at: start, tag: tag)
        }
        var items: [DataSet] = []
        var pos = start
        while true {
            if pos >= limit {
                if delimited { throw outOfBytes("sequence has no delimitation item", at: pos, limit: limit, tag: tag) }
                return (items, pos)
            }
            guard pos + 8 <= limit else {
                throw outOfBytes("item header needs 8 bytes", at: pos, limit: limit, tag: tag)
            }
            let itemTag = Tag(u16(pos, enc.littleEndian), u16(pos + 2, enc.littleEndian))
            let length = u32(pos + 4, enc.littleEndian)
            if itemTag == .sequenceDelimitationItem {
                guard delimited else {
                    throw error(
                        .badDelimiter, "sequence delimitation item in a defined-length sequence", at: pos, tag: tag)
                }
                return (items, pos + 8)
            }
            guard itemTag == .item else {
                throw error(.badDelimiter, "expected an item, found \(itemTag)", at: pos, tag: tag)
            }
            if length == Self.undefinedLength {
                var (item, next) = try parseDataSet(from: pos + 8, to: limit, depth: depth, delimited: true, enc)
                item.sourceItemLength = length
                items.append(item)
                pos = next
            } else {
                let end = pos + 8 + Int(length)
                let overruns = Int(length) > limit - (pos + 8)
                guard !overruns || (!delimited && Int(length) <= outer - (pos + 8)) else {
                    // More of the file may hold it (header mode); else it exceeds its sequence.
                    let mayFit = !isComplete && outer >= storage.count && end <= (streamSize ?? Int.max)
                    throw mayFit
                        ? error(.needMoreData, "item continues past the prefix", at: pos, tag: tag)
                        : error(
                            .lengthExceedsRemaining, "item length \(length) exceeds its sequence", at: pos, tag: tag)
                }
                var (item, _) = try parseDataSet(from: pos + 8, to: end, depth: depth, delimited: false, enc)
                item.sourceItemLength = length
                items.append(item)
                if overruns {
                    quirks.append(
                        "offset \(base + pos): \(tag): item length \(length) runs \(end - limit) bytes past its sequence (read as DCMTK does)"
                    )
                    return (items, end)
                }
                pos = end
            }
        }
    }

    private func parseEncapsulated(
        from start: Int, to limit: Int, _ enc: Encoding
    ) throws(DICOMError) -> (EncapsulatedPixelData, Int) {
        var pos = start
        var table: ArraySlice<UInt8>?
        var fragments: [ArraySlice<UInt8>] = []
        while true {
            guard pos + 8 <= limit else {
                throw outOfBytes(
                    "encapsulated pixel data has no sequence delimitation item", at: pos, limit: limit, tag: .pixelData)
            }
            let itemTag = Tag(u16(pos, enc.littleEndian), u16(pos + 2, enc.littleEndian))
            let length = u32(pos + 4, enc.littleEndian)
            if itemTag == .sequenceDelimitationItem {
                guard table != nil else {
                    throw error(.encapsulation, "no Basic Offset Table item", at: pos, tag: .pixelData)
                }
                return (EncapsulatedPixelData(basicOffsetTable: table ?? [], fragments: fragments), pos + 8)
            }
            guard itemTag == .item else {
                throw error(.encapsulation, "expected a fragment item, found \(itemTag)", at: pos, tag: .pixelData)
            }
            guard length != Self.undefinedLength else {
                throw error(.encapsulation, "fragment of undefined length", at: pos, tag: .pixelData)
            }
            guard Int(length) <= limit - (pos + 8) else {
                throw outOfBytes(
                    "fragment length \(length) exceeds the remaining bytes", at: pos, limit: limit, tag: .pixelData)
            }
            let bytes = storage[(pos + 8)..<(pos + 8 + Int(length))]
            if table == nil { table = bytes } else { fragments.append(bytes) }
            pos += 8 + Int(length)
        }
    }

    static func swapped(_ value: ArraySlice<UInt8>, unit: Int) -> ArraySlice<UInt8> {
        var out = Array(value)
        var i = 0
        while i + unit <= out.count {
            out[i..<(i + unit)].reverse()
            i += unit
        }
        return out[...]
    }
}

func hex2(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
