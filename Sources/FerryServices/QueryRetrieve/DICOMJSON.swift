import FerryDICOM

/// The DICOM JSON model (PS3.18 F.2) of a data set, for `--json` output: `{"00100010":
/// {"vr":"PN","Value":[{"Alphabetic":"DOE^JOHN"}]}}`, numbers as numbers, sequences nested,
/// binary values as InlineBinary (base64). Text is decoded in the data set's character set.
public enum DICOMJSON {
    public static func encode(_ ds: DataSet, charset inherited: SpecificCharacterSet = .ascii) -> String {
        let charset = ds[QueryKeys.specificCharacterSet].map { SpecificCharacterSet($0.string) } ?? inherited
        let members = ds.elements.filter { !$0.tag.isGroupLength }.map { e in
            "\"\(hex(e.tag))\":" + element(e, charset: charset)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func element(_ e: DataElement, charset: SpecificCharacterSet) -> String {
        let vr = "\"vr\":\"\(e.vr)\""
        switch e.value {
        case .sequence(let items):
            return "{\(vr)"
                + (items.isEmpty
                    ? "" : ",\"Value\":[" + items.map { encode($0, charset: charset) }.joined(separator: ",") + "]")
                + "}"
        case .encapsulated:
            return "{\(vr)}"
        case .bytes(let bytes):
            if bytes.isEmpty { return "{\(vr)}" }
            switch e.vr {
            case .OB, .OD, .OF, .OL, .OV, .OW, .UN:
                return "{\(vr),\"InlineBinary\":\"\(base64(bytes))\"}"
            case .US, .SS, .UL, .SL:
                return "{\(vr),\"Value\":[\(e.integers.map(String.init).joined(separator: ","))]}"
            default:
                break
            }
            let text = AttributeMatcher().value(e, charset: charset)
            let parts =
                e.vr.isMultiValuedText
                ? text.split(separator: "\\", omittingEmptySubsequences: false).map(String.init) : [text]
            let values = parts.map { p -> String in
                let t = p.trimmed
                switch e.vr {
                case .IS, .DS: return Double(t) != nil ? t : quoted(t)
                case .PN: return "{\"Alphabetic\":\(quoted(t))}"
                default: return quoted(t)
                }
            }
            return "{\(vr),\"Value\":[\(values.joined(separator: ","))]}"
        }
    }

    static func hex(_ tag: Tag) -> String {
        let s = String(tag.rawValue, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func base64<C: Collection<UInt8>>(_ bytes: C) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var buffer: [UInt8] = []
        func flush() {
            let b = buffer + [UInt8](repeating: 0, count: 3 - buffer.count)
            let n = Int(b[0]) << 16 | Int(b[1]) << 8 | Int(b[2])
            let chars = [table[n >> 18 & 63], table[n >> 12 & 63], table[n >> 6 & 63], table[n & 63]]
            out += String(chars.prefix(buffer.count + 1)) + String(repeating: "=", count: 3 - buffer.count)
            buffer = []
        }
        for byte in bytes {
            buffer.append(byte)
            if buffer.count == 3 { flush() }
        }
        if !buffer.isEmpty { flush() }
        return out
    }
}
