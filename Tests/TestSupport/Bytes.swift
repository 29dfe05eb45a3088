/// Builds hostile or hand-made DICOM byte streams inline (after DCMTK's dctmacro.h).
public struct Bytes {
    public var bytes: [UInt8] = []
    public var littleEndian = true
    public init(littleEndian: Bool = true) { self.littleEndian = littleEndian }

    public static func part10Header(transferSyntax: String) -> Bytes {
        var b = Bytes()
        b.bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        var ts = Array(transferSyntax.utf8)
        if ts.count % 2 == 1 { ts.append(0) }
        b.explicit(0x0002, 0x0010, "UI", ts)
        return b
    }

    public mutating func u16(_ v: UInt16) {
        bytes += littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)]
    }
    public mutating func u32(_ v: UInt32) {
        if littleEndian {
            u16(UInt16(v & 0xFFFF)); u16(UInt16(v >> 16))
        } else {
            u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF))
        }
    }
    public mutating func tag(_ g: UInt16, _ e: UInt16) { u16(g); u16(e) }

    /// An explicit VR element; long-form VRs get the reserved field and a 32-bit length.
    public mutating func explicit(_ g: UInt16, _ e: UInt16, _ vr: String, _ value: [UInt8], length: UInt32? = nil) {
        tag(g, e)
        bytes += Array(vr.utf8)
        let long = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"].contains(vr)
        if long {
            bytes += [0, 0]; u32(length ?? UInt32(value.count))
        } else {
            u16(UInt16(length ?? UInt32(value.count)))
        }
        bytes += value
    }
    public mutating func explicit(_ g: UInt16, _ e: UInt16, _ vr: String, _ text: String) {
        var v = Array(text.utf8)
        if v.count % 2 == 1 { v.append(vr == "UI" ? 0 : 0x20) }
        explicit(g, e, vr, v)
    }
    public mutating func implicit(_ g: UInt16, _ e: UInt16, _ value: [UInt8], length: UInt32? = nil) {
        tag(g, e)
        u32(length ?? UInt32(value.count))
        bytes += value
    }
    /// An item or delimiter header.
    public mutating func item(_ e: UInt16, length: UInt32) { tag(0xFFFE, e); u32(length) }
}
