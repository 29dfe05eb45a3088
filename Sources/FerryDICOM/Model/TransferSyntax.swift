/// A transfer syntax (PS3.5 10) and how its data set is encoded.
public struct TransferSyntax: Hashable, Sendable, CustomStringConvertible {
    public let uid: String
    public let isExplicitVR: Bool
    public let isLittleEndian: Bool
    public let isDeflated: Bool
    /// Pixel data is encapsulated in fragments (PS3.5 A.4).
    public let isEncapsulated: Bool
    /// Encapsulated syntaxes whose pixel data round-trip exactly.
    public let isLossless: Bool

    init(
        _ uid: String, explicit: Bool = true, little: Bool = true, deflated: Bool = false,
        encapsulated: Bool = false, lossless: Bool = true
    ) {
        self.uid = uid
        isExplicitVR = explicit
        isLittleEndian = little
        isDeflated = deflated
        isEncapsulated = encapsulated
        isLossless = lossless
    }

    public var name: String { UIDRegistry.entry(for: uid)?.name ?? uid }
    public var description: String { name }

    public static let implicitVRLittleEndian = TransferSyntax("1.2.840.10008.1.2", explicit: false)
    public static let explicitVRLittleEndian = TransferSyntax("1.2.840.10008.1.2.1")
    public static let encapsulatedUncompressed = TransferSyntax("1.2.840.10008.1.2.1.98", encapsulated: true)
    public static let deflatedExplicitVRLittleEndian = TransferSyntax("1.2.840.10008.1.2.1.99", deflated: true)
    public static let explicitVRBigEndian = TransferSyntax("1.2.840.10008.1.2.2", little: false)
    public static let jpegBaseline = TransferSyntax("1.2.840.10008.1.2.4.50", encapsulated: true, lossless: false)
    public static let jpegExtended = TransferSyntax("1.2.840.10008.1.2.4.51", encapsulated: true, lossless: false)
    public static let jpegLosslessProcess14 = TransferSyntax("1.2.840.10008.1.2.4.57", encapsulated: true)
    public static let jpegLosslessSV1 = TransferSyntax("1.2.840.10008.1.2.4.70", encapsulated: true)
    public static let jpegLSLossless = TransferSyntax("1.2.840.10008.1.2.4.80", encapsulated: true)
    public static let jpegLSNearLossless = TransferSyntax("1.2.840.10008.1.2.4.81", encapsulated: true, lossless: false)
    public static let jpeg2000Lossless = TransferSyntax("1.2.840.10008.1.2.4.90", encapsulated: true)
    public static let jpeg2000 = TransferSyntax("1.2.840.10008.1.2.4.91", encapsulated: true, lossless: false)
    public static let jpeg2000Part2MCLossless = TransferSyntax("1.2.840.10008.1.2.4.92", encapsulated: true)
    public static let jpeg2000Part2MC = TransferSyntax("1.2.840.10008.1.2.4.93", encapsulated: true, lossless: false)
    public static let htj2kLossless = TransferSyntax("1.2.840.10008.1.2.4.201", encapsulated: true)
    public static let htj2kLosslessRPCL = TransferSyntax("1.2.840.10008.1.2.4.202", encapsulated: true)
    public static let htj2k = TransferSyntax("1.2.840.10008.1.2.4.203", encapsulated: true, lossless: false)
    public static let rleLossless = TransferSyntax("1.2.840.10008.1.2.5", encapsulated: true)

    /// The uncompressed syntax with this encoding (for data sets without a Transfer Syntax UID).
    static func uncompressed(_ e: Encoding) -> TransferSyntax {
        e.explicitVR ? (e.littleEndian ? .explicitVRLittleEndian : .explicitVRBigEndian) : .implicitVRLittleEndian
    }

    /// The syntaxes Ferry knows how to parse. Retired JPEG processes, MPEG, HEVC and
    /// JPEG XL are all explicit VR little endian with encapsulated pixel data, so any
    /// registered transfer syntax outside this table is read that way too.
    public static let known: [TransferSyntax] = [
        .implicitVRLittleEndian, .explicitVRLittleEndian, .encapsulatedUncompressed, .deflatedExplicitVRLittleEndian,
        .explicitVRBigEndian, .jpegBaseline, .jpegExtended, .jpegLosslessProcess14, .jpegLosslessSV1,
        .jpegLSLossless, .jpegLSNearLossless, .jpeg2000Lossless, .jpeg2000, .jpeg2000Part2MCLossless,
        .jpeg2000Part2MC, .htj2kLossless, .htj2kLosslessRPCL, .htj2k, .rleLossless,
    ]
    private static let byUID: [String: TransferSyntax] = Dictionary(
        known.map { ($0.uid, $0) }, uniquingKeysWith: { a, _ in a })

    /// The syntax for `uid`, or nil if the UID is not a registered transfer syntax.
    public static func lookup(_ uid: String) -> TransferSyntax? {
        if let ts = byUID[uid] { return ts }
        if let entry = UIDRegistry.entry(for: uid), entry.kind == "Transfer Syntax" {
            return TransferSyntax(uid, encapsulated: true, lossless: false)
        }
        return nil
    }
}
