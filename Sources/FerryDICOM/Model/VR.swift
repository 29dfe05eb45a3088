/// A value representation (PS3.5 6.2), as its two-character code.
public struct VR: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var rawValue: UInt16  // the two ASCII bytes, first byte high

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init?(_ code: String) {
        let b = Array(code.utf8)
        guard b.count == 2 else { return nil }
        self.init(rawValue: UInt16(b[0]) << 8 | UInt16(b[1]))
        guard VR.known.contains(self) else { return nil }
    }
    init(_ a: UInt8, _ b: UInt8) { rawValue = UInt16(a) << 8 | UInt16(b) }

    public var description: String {
        String(decoding: [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)], as: UTF8.self)
    }

    public static let AE = VR(0x41, 0x45), AS = VR(0x41, 0x53), AT = VR(0x41, 0x54), CS = VR(0x43, 0x53)
    public static let DA = VR(0x44, 0x41), DS = VR(0x44, 0x53), DT = VR(0x44, 0x54), FL = VR(0x46, 0x4C)
    public static let FD = VR(0x46, 0x44), IS = VR(0x49, 0x53), LO = VR(0x4C, 0x4F), LT = VR(0x4C, 0x54)
    public static let OB = VR(0x4F, 0x42), OD = VR(0x4F, 0x44), OF = VR(0x4F, 0x46), OL = VR(0x4F, 0x4C)
    public static let OV = VR(0x4F, 0x56), OW = VR(0x4F, 0x57), PN = VR(0x50, 0x4E), SH = VR(0x53, 0x48)
    public static let SL = VR(0x53, 0x4C), SQ = VR(0x53, 0x51), SS = VR(0x53, 0x53), ST = VR(0x53, 0x54)
    public static let SV = VR(0x53, 0x56), TM = VR(0x54, 0x4D), UC = VR(0x55, 0x43), UI = VR(0x55, 0x49)
    public static let UL = VR(0x55, 0x4C), UN = VR(0x55, 0x4E), UR = VR(0x55, 0x52), US = VR(0x55, 0x53)
    public static let UT = VR(0x55, 0x54), UV = VR(0x55, 0x56)

    static let known: Set<VR> = [
        .AE, .AS, .AT, .CS, .DA, .DS, .DT, .FL, .FD, .IS, .LO, .LT, .OB, .OD, .OF, .OL, .OV, .OW, .PN, .SH,
        .SL, .SQ, .SS, .ST, .SV, .TM, .UC, .UI, .UL, .UN, .UR, .US, .UT, .UV,
    ]
    public var isKnown: Bool { VR.known.contains(self) }

    /// Explicit VR encodings give these a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
    public var hasLongLength: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .SQ, .SV, .UC, .UN, .UR, .UT, .UV: return true
        default: return !isKnown
        }
    }

    /// The size of one numeric unit, used for byte swapping and VM; 1 for strings and OB/UN.
    public var unitSize: Int {
        switch self {
        case .US, .SS, .OW: return 2
        case .UL, .SL, .FL, .OF, .OL: return 4
        case .AT: return 2  // a tag is two 16-bit words; swapped as such
        case .FD, .OD, .SV, .UV, .OV: return 8
        default: return 1
        }
    }

    /// Character-string VRs (values printed and compared as text).
    public var isString: Bool {
        switch self {
        case .AE, .AS, .CS, .DA, .DS, .DT, .IS, .LO, .LT, .PN, .SH, .ST, .TM, .UC, .UI, .UR, .UT: return true
        default: return false
        }
    }

    /// Strings whose value multiplicity is given by backslashes (not LT, ST, UT, UR).
    public var isMultiValuedString: Bool { isString && self != .LT && self != .ST && self != .UT && self != .UR }

    /// Padding byte to make a value even (PS3.5 6.2): NUL for UI and binary, space for text.
    public var paddingByte: UInt8 { (isString && self != .UI) ? 0x20 : 0x00 }

    /// Binary bulk VRs whose values are printed as hex.
    public var isBinary: Bool {
        switch self {
        case .OB, .OD, .OF, .OL, .OV, .OW, .UN: return true
        default: return false
        }
    }
}
