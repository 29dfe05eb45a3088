import FerryDICOM

/// DCMTK's `-k` override keys (findscu, movescu, getscu): `PatientName=DOE*`, `(0010,0010)=X`,
/// `0010,0010`, a path into sequences `RequestAttributesSequence[0].RequestedProcedureID=1`;
/// no `=` (or nothing after it) asks for the attribute with an empty value (universal
/// matching, or a return key). VRs come from the dictionary (UN for unknown tags).
public enum KeyAssignment {
    public static func apply(_ text: String, to ds: inout DataSet) throws(ServiceError) {
        let (path, value): (Substring, String?) =
            if let eq = text.firstIndex(of: "=") {
                (text[..<eq], String(text[text.index(after: eq)...]))
            } else {
                (Substring(text), nil)
            }
        var steps: [(tag: Tag, item: Int?)] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            steps.append(try step(part, in: text))
        }
        guard let last = steps.last else { throw bad(text, "no attribute") }
        try set(&ds, steps: steps[...], last: last.tag, value: value, text: text)
    }

    private static func set(
        _ ds: inout DataSet, steps: ArraySlice<(tag: Tag, item: Int?)>, last: Tag, value: String?, text: String
    ) throws(ServiceError) {
        guard let first = steps.first else { return }
        let vr = DataDictionary.entry(for: first.tag)?.vr ?? .UN
        if steps.count == 1 {
            if vr == .SQ {
                guard value == nil || value == "" else { throw bad(text, "a sequence takes no value") }
                ds[first.tag] = DataElement(
                    tag: first.tag, vr: .SQ, value: .sequence(first.item == nil ? [] : [DataSet()]))
                return
            }
            ds[first.tag] = DataElement(first.tag, vr, string: value ?? "")
            return
        }
        guard vr == .SQ else { throw bad(text, "\(first.tag) is not a sequence") }
        let index = first.item ?? 0
        guard index >= 0, index < 1000 else { throw bad(text, "item \(index) out of range") }
        var items = ds[first.tag]?.items ?? []
        while items.count <= index { items.append(DataSet()) }
        try set(&items[index], steps: steps.dropFirst(), last: last, value: value, text: text)
        ds[first.tag] = DataElement(tag: first.tag, vr: .SQ, value: .sequence(items))
    }

    /// `Keyword`, `(gggg,eeee)` or `gggg,eeee`, with an optional `[n]` item index.
    private static func step(_ part: Substring, in text: String) throws(ServiceError) -> (tag: Tag, item: Int?) {
        var name = part
        var item: Int?
        if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
            guard let n = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) else {
                throw bad(text, "bad item index in \(part)")
            }
            item = n
            name = name[..<open]
        }
        var hex = name
        if hex.hasPrefix("("), hex.hasSuffix(")") { hex = hex.dropFirst().dropLast() }
        let pair = hex.split(separator: ",")
        if pair.count == 2, let g = UInt16(pair[0], radix: 16), let e = UInt16(pair[1], radix: 16) {
            return (Tag(g, e), item)
        }
        guard let tag = DataDictionary.tag(forKeyword: String(name)) else {
            throw bad(text, "unknown attribute \(name)")
        }
        return (tag, item)
    }

    private static func bad(_ text: String, _ why: String) -> ServiceError {
        ServiceError(.configuration, "bad key \"\(text)\": \(why)", line: 0)
    }
}
