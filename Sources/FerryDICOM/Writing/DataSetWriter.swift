/// Encodes data sets (PS3.5 7): implicit or explicit VR, little or big endian; values
/// padded to even length; sequences and items with explicit lengths; group lengths recomputed.
public struct DataSetWriter {
    public var encoding: Encoding
    /// Write sequences and items with undefined length and delimiters instead of explicit lengths.
    public var undefinedLengthSequences = false

    public init(encoding: Encoding, undefinedLengthSequences: Bool = false) {
        self.encoding = encoding
        self.undefinedLengthSequences = undefinedLengthSequences
    }

    public init(_ ts: TransferSyntax) { self.init(encoding: Encoding(ts)) }

    public func encode(_ ds: DataSet) throws(DICOMError) -> [UInt8] {
        var out: [UInt8] = []
        try write(ds, into: &out)
        return out
    }

    public func write(_ ds: DataSet, into out: inout [UInt8]) throws(DICOMError) {
        var groupLengthAt: (group: UInt16, lengthOffset: Int, start: Int)?
        for e in ds.elements {
            if let g = groupLengthAt, g.group != e.tag.group {
                patchGroupLength(&out, g)
                groupLengthAt = nil
            }
            if e.tag.isGroupLength {
                // Written with a placeholder and patched when the group ends.
                try writeHeader(e.tag, .UL, length: 4, into: &out)
                groupLengthAt = (e.tag.group, out.count, out.count + 4)
                out += [0, 0, 0, 0]
                continue
            }
            try write(e, into: &out)
        }
        if let g = groupLengthAt { patchGroupLength(&out, g) }
    }

    private func patchGroupLength(_ out: inout [UInt8], _ g: (group: UInt16, lengthOffset: Int, start: Int)) {
        let length = UInt32(out.count - g.start)
        let bytes = u32(length)
        for i in 0..<4 { out[g.lengthOffset + i] = bytes[i] }
    }

    public func write(_ e: DataElement, into out: inout [UInt8]) throws(DICOMError) {
        switch e.value {
        case .bytes(let value):
            let padded = value.count & 1 == 1
            let length = value.count + (padded ? 1 : 0)
            guard length <= 0xFFFF_FFFE else {
                throw DICOMError(.valueTooLong, "value of \(length) bytes", tag: e.tag)
            }
            try writeHeader(e.tag, e.vr, length: UInt32(length), into: &out)
            if encoding.littleEndian || e.vr.unitSize == 1 {
                out += value
            } else {
                out += DataSetParser.swapped(value, unit: e.vr.unitSize)
            }
            if padded { out.append(e.vr.paddingByte) }
        case .sequence(let items):
            if undefinedLengthSequences {
                try writeHeader(e.tag, .SQ, length: 0xFFFF_FFFF, into: &out)
                for item in items {
                    out += tagBytes(.item) + u32(0xFFFF_FFFF)
                    try write(item, into: &out)
                    out += tagBytes(.itemDelimitationItem) + u32(0)
                }
                out += tagBytes(.sequenceDelimitationItem) + u32(0)
            } else {
                var body: [UInt8] = []
                for item in items {
                    let encoded = try encode(item)
                    body += tagBytes(.item) + u32(UInt32(encoded.count))
                    body += encoded
                }
                try writeHeader(e.tag, .SQ, length: UInt32(body.count), into: &out)
                out += body
            }
        case .encapsulated(let pixels):
            // Encapsulated pixel data always has undefined length (PS3.5 A.4).
            try writeHeader(e.tag, .OB, length: 0xFFFF_FFFF, into: &out)
            for fragment in [pixels.basicOffsetTable] + pixels.fragments {
                let odd = fragment.count & 1
                out += tagBytes(.item) + u32(UInt32(fragment.count + odd))
                out += fragment
                if odd == 1 { out.append(0) }
            }
            out += tagBytes(.sequenceDelimitationItem) + u32(0)
        }
    }

    private func writeHeader(_ tag: Tag, _ vr: VR, length: UInt32, into out: inout [UInt8]) throws(DICOMError) {
        out += tagBytes(tag)
        guard encoding.explicitVR else {
            out += u32(length)
            return
        }
        out.append(UInt8(vr.rawValue >> 8))
        out.append(UInt8(vr.rawValue & 0xFF))
        if vr.hasLongLength {
            out += [0, 0]
            out += u32(length)
        } else {
            guard length <= 0xFFFF else {
                throw DICOMError(
                    .valueTooLong, "\(length) bytes do not fit the 16-bit length of \(vr) in explicit VR", tag: tag)
            }
            out += u16(UInt16(length))
        }
    }

    private func tagBytes(_ tag: Tag) -> [UInt8] { u16(tag.group) + u16(tag.element) }
    private func u16(_ v: UInt16) -> [UInt8] {
        encoding.littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)]
    }
    private func u32(_ v: UInt32) -> [UInt8] {
        encoding.littleEndian
            ? u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) : u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF))
    }
}
