/// A DIMSE status code with its PS3.7 (Annex C) and PS3.4 (B.2.3) name and class.
public struct DIMSEStatus: Sendable, Hashable, CustomStringConvertible {
    public enum Category: String, Sendable {
        case success, warning, failure, cancel, pending
    }

    public var code: UInt16
    public init(_ code: UInt16) { self.code = code }

    public static let success = DIMSEStatus(0x0000)

    public var category: Category {
        switch code {
        case 0x0000: .success
        case 0x0001, 0x0107, 0x0116, 0xB000...0xBFFF: .warning
        case 0xFE00: .cancel
        case 0xFF00, 0xFF01: .pending
        default: .failure
        }
    }

    public var isSuccessOrWarning: Bool { category == .success || category == .warning }

    /// The name of the status in PS3.7 C and the Storage Service Class (PS3.4 Table B.2-1).
    public var name: String {
        switch code {
        case 0x0000: "Success"
        case 0x0001: "Warning: Requested optional attributes are not supported"
        case 0x0107: "Warning: Attribute list error"
        case 0x0116: "Warning: Attribute value out of range"
        case 0xB000: "Warning: Coercion of data elements"
        case 0xB006: "Warning: Elements discarded"
        case 0xB007: "Warning: Data set does not match SOP class"
        case 0xB000...0xBFFF: "Warning"
        case 0x0105: "Failure: No such attribute"
        case 0x0106: "Failure: Invalid attribute value"
        case 0x0110: "Failure: Processing failure"
        case 0x0111: "Failure: Duplicate SOP instance"
        case 0x0112: "Failure: No such object instance"
        case 0x0117: "Failure: Invalid object instance"
        case 0x0118: "Failure: No such SOP class"
        case 0x0119: "Failure: Class-instance conflict"
        case 0x0120: "Failure: Missing attribute"
        case 0x0121: "Failure: Missing attribute value"
        case 0x0122: "Refused: SOP class not supported"
        case 0x0124: "Refused: Not authorized"
        case 0x0210: "Failure: Duplicate invocation"
        case 0x0211: "Failure: Unrecognized operation"
        case 0x0212: "Failure: Mistyped argument"
        case 0x0213: "Failure: Resource limitation"
        case 0xA801: "Refused: Move destination unknown"
        case 0xA700...0xA7FF: "Refused: Out of resources"
        case 0xA900...0xA9FF: "Error: Data set does not match SOP class"
        case 0xC000...0xCFFF: "Error: Cannot understand"
        case 0xFE00: "Cancel"
        case 0xFF00: "Pending"
        case 0xFF01: "Pending (warning)"
        default: "Failure: Unknown status"
        }
    }

    /// `0xA700: Refused: Out of resources`, as DCMTK prints statuses.
    public var description: String { "0x\(hex)\u{3A} \(name)" }

    public var hex: String {
        let s = String(code, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }
}
