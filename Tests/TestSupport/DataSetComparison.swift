import FerryDICOM

/// Compares two data sets by content: tags, value bytes (little endian as read), sequence
/// items and encapsulated fragments. Group lengths and file meta are ignored; VRs are not
/// compared, since a transfer through implicit VR legitimately loses them.
public enum DataSetComparison {
    public static func differences(_ a: DataSet, _ b: DataSet, path: String = "") -> [String] {
        let ea = a.elements.filter { !$0.tag.isGroupLength && $0.tag.group != 0x0002 }
        let eb = b.elements.filter { !$0.tag.isGroupLength && $0.tag.group != 0x0002 }
        var out: [String] = []
        let tagsA = ea.map(\.tag), tagsB = eb.map(\.tag)
        if tagsA != tagsB {
            let onlyA = Set(tagsA).subtracting(tagsB).sorted(), onlyB = Set(tagsB).subtracting(tagsA).sorted()
            return ["\(path) tags differ: only in first \(onlyA), only in second \(onlyB)"]
        }
        for (x, y) in zip(ea, eb) {
            switch (x.value, y.value) {
            case (.bytes(let p), .bytes(let q)):
                // Even padding may differ in the padding byte only for odd-length sources.
                if Array(p) != Array(q) { out.append("\(path)\(x.tag) value differs (\(p.count) vs \(q.count) bytes)") }
            case (.sequence(let p), .sequence(let q)):
                if p.count != q.count { out.append("\(path)\(x.tag) has \(p.count) vs \(q.count) items"); continue }
                for (i, (s, t)) in zip(p, q).enumerated() { out += differences(s, t, path: "\(path)\(x.tag)[\(i)].") }
            case (.encapsulated(let p), .encapsulated(let q)):
                if p.fragments.map({ Array($0) }) != q.fragments.map({ Array($0) }) {
                    out.append("\(path)\(x.tag) fragments differ")
                }
            case (.bytes(let p), .sequence(let q)) where p.isEmpty && q.isEmpty,
                (.sequence(let q), .bytes(let p)) where p.isEmpty && q.isEmpty:
                continue
            default:
                out.append("\(path)\(x.tag) value kinds differ")
            }
        }
        return out
    }
}
