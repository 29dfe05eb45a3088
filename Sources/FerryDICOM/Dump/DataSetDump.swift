/// Formats data sets one element a line, like dcmdump:
/// `(gggg,eeee) VR value   # length, VM Keyword`, sequences and items indented.
public struct DataSetDump {
    /// Print at most this many values of long binary or numeric elements (dcmdump -L); nil prints all (+L).
    public var maxValues: Int? = 16
    public init(maxValues: Int? = 16) { self.maxValues = maxValues }

    public func lines(_ file: DICOMFile) -> [String] {
        var out = [
            "# Dicom-File-Format", "", "# Dicom-Meta-Information-Header",
            "# Used TransferSyntax: \(file.meta.isEmpty ? "Unknown Transfer Syntax" : "Little Endian Explicit")",
        ]
        lines(file.meta, depth: 0, into: &out)
        out += ["", "# Dicom-Data-Set", "# Used TransferSyntax: \(file.transferSyntax.name)"]
        lines(file.dataSet, depth: 0, into: &out)
        return out
    }

    public func lines(_ ds: DataSet, depth: Int, into out: inout [String]) {
        for e in ds.elements { lines(e, depth: depth, into: &out) }
    }

    private func line(
        _ depth: Int, _ tag: Tag, _ vr: String, _ value: String, _ length: String, _ vm: Int, _ name: String
    ) -> String {
        // dcmdump pads the value to 40 columns after the VR.
        let indent = String(repeating: "  ", count: depth)
        var left = "\(indent)\(tag) \(vr) \(value)"
        let column = indent.count + 15 + 40
        if left.count < column { left += String(repeating: " ", count: column - left.count) }
        let len = length.count < 3 ? String(repeating: " ", count: 3 - length.count) + length : length
        return "\(left) # \(len), \(vm) \(name)"
    }

    private func name(_ tag: Tag) -> String {
        if tag.isPrivateCreator { return "PrivateCreator" }
        if tag.isGroupLength { return DataDictionary.entry(for: tag)?.keyword ?? "GenericGroupLength" }
        return DataDictionary.entry(for: tag)?.keyword ?? "Unknown Tag & Data"
    }

    private func lines(_ e: DataElement, depth: Int, into out: inout [String]) {
        let undefined = e.sourceLength == 0xFFFF_FFFF
        switch e.value {
        case .sequence(let items):
            let kind = undefined ? "undefined" : "explicit"
            out.append(
                line(
                    depth, e.tag, "SQ", "(Sequence with \(kind) length #=\(items.count))",
                    undefined ? "u/l" : String(e.sourceLength ?? 0), 1, name(e.tag)))
            for item in items {
                let itemUndefined = item.sourceItemLength == 0xFFFF_FFFF
                let itemLength = itemUndefined ? "u/l" : item.sourceItemLength.map(String.init) ?? "0"
                out.append(
                    line(
                        depth + 1, .item, "na",
                        "(Item with \(itemUndefined ? "undefined" : "explicit") length #=\(item.count))",
                        itemLength, 1, "Item"))
                lines(item, depth: depth + 2, into: &out)
                out.append(
                    line(
                        depth + 1, .itemDelimitationItem, "na", "(ItemDelimitationItem)", "0", 0, "ItemDelimitationItem"
                    ))
            }
            out.append(
                line(
                    depth, .sequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "0", 0,
                    "SequenceDelimitationItem"))
        case .encapsulated(let pixels):
            out.append(
                line(
                    depth, e.tag, e.vr.description, "(PixelSequence #=\(pixels.fragments.count + 1))", "u/l", 1,
                    name(e.tag)))
            for fragment in [pixels.basicOffsetTable] + pixels.fragments {
                let text = fragment.isEmpty ? "(no value available)" : hexBytes(fragment)
                out.append(line(depth + 1, .item, "pi", text, String(fragment.count), 1, "Item"))
            }
            out.append(
                line(
                    depth, .sequenceDelimitationItem, "na", "(SequenceDelimitationItem)", "0", 0,
                    "SequenceDelimitationItem"))
        case .bytes(let bytes):
            let (text, vm) = valueText(e, bytes)
            out.append(line(depth, e.tag, e.vr.description, text, String(bytes.count), vm, name(e.tag)))
        }
    }

    /// The printed value and its multiplicity.
    public func valueText(_ e: DataElement, _ b: ArraySlice<UInt8>) -> (String, Int) {
        if b.isEmpty { return ("(no value available)", 0) }
        let vr = e.vr
        if vr.isString {
            let s = e.string ?? ""
            let vm = vr.isMultiValuedString ? s.split(separator: "\\", omittingEmptySubsequences: false).count : 1
            return ("[\(s)]", vm)
        }
        var values: [String] = []
        let unit = vr == .AT ? 4 : vr.unitSize
        let count = b.count / unit
        let shown = maxValues.map { min($0, count) } ?? count
        var i = b.startIndex
        for _ in 0..<shown {
            switch vr {
            case .US: values.append(String(b.loadLE16(i)))
            case .SS: values.append(String(Int16(bitPattern: b.loadLE16(i))))
            case .UL: values.append(String(b.loadLE32(i)))
            case .SL: values.append(String(Int32(bitPattern: b.loadLE32(i))))
            case .UV: values.append(String(b.loadLE64(i)))
            case .SV: values.append(String(Int64(bitPattern: b.loadLE64(i))))
            case .FL: values.append(formatFloat(Double(Float(bitPattern: b.loadLE32(i)))))
            case .FD: values.append(formatFloat(Double(bitPattern: b.loadLE64(i))))
            case .AT: values.append(Tag(b.loadLE16(i), b.loadLE16(i + 2)).description)
            case .OW: values.append(hex4(b.loadLE16(i)))
            case .OL, .OF: values.append(hex8(b.loadLE32(i)))
            case .OD, .OV: values.append(hex8(UInt32(b.loadLE64(i) >> 32)) + hex8(UInt32(b.loadLE64(i) & 0xFFFF_FFFF)))
            default: values.append(hex2(b[i]))
            }
            i += unit
        }
        var text = values.joined(separator: "\\")
        if shown < count { text += "..." }
        let vm = vr.isBinary ? 1 : count
        return (text, vm)
    }

    private func hexBytes(_ b: ArraySlice<UInt8>) -> String {
        let shown = maxValues.map { min($0, b.count) } ?? b.count
        let text = b.prefix(shown).map(hex2).joined(separator: "\\")
        return shown < b.count ? text + "..." : text
    }

    private func hex8(_ v: UInt32) -> String { hex4(UInt16(v >> 16)) + hex4(UInt16(v & 0xFFFF)) }

    /// Shortest round-trip decimal, as dcmdump prints floats (%g with enough digits).
    private func formatFloat(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}
