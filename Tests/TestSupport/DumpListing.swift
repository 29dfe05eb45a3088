/// One element line of a dcmdump-style listing, normalised for comparison.
public struct ListedElement: Equatable, CustomStringConvertible, Sendable {
    public var depth: Int
    public var tag: String
    public var vr: String
    public var length: String
    public var value: String?
    public var description: String {
        "\(String(repeating: "  ", count: depth))\(tag) \(vr) #\(length) \(value ?? "<binary>")"
    }
}

/// Parses the output of `dcmdump -Un +L` or `ferry dump -L`: keeps tag, VR, length and the
/// value of text and numeric elements; drops comments and delimitation items (dcmdump prints
/// pseudo-delimiters "for re-encoding" after explicit-length sequences, Ferry after all).
public enum DumpListing {
    static let textVRs: Set<String> = [
        "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT",
        "US", "SS", "UL", "SL", "FL", "FD", "AT", "UV", "SV",
    ]

    public static func parse(_ text: String) -> [ListedElement] {
        var out: [ListedElement] = []
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            let stripped = line.drop(while: { $0 == " " })
            guard stripped.hasPrefix("(") else { continue }
            let depth = (line.count - stripped.count) / 2
            let tag = String(stripped.prefix(11)).lowercased()
            if tag == "(fffe,e00d)" || tag == "(fffe,e0dd)" { continue }
            let rest = stripped.dropFirst(12)
            let vr = String(rest.prefix(2))
            guard let hash = rest.range(of: " # ", options: .backwards) ?? rest.range(of: " #", options: .backwards)
            else { continue }
            var valuePart = String(rest[rest.index(rest.startIndex, offsetBy: 3)..<hash.lowerBound])
            while valuePart.hasSuffix(" ") { valuePart.removeLast() }
            let trailer = rest[hash.upperBound...].drop(while: { $0 == " " })
            let length = String(trailer.prefix(while: { $0 != "," }))
            var value: String? = nil
            if textVRs.contains(vr) || valuePart == "(no value available)" {
                value = valuePart
                if value?.hasPrefix("[") == true && value?.hasSuffix("]") == true {
                    value = String(valuePart.dropFirst().dropLast())
                }
            }
            if tag == "(fffe,e000)" { value = nil }
            out.append(ListedElement(depth: depth, tag: tag, vr: vr, length: length, value: value))
        }
        return out
    }
}
