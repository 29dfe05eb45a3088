import FerryDICOM

/// The names a user may give a transfer syntax, in job files (`transcoding.order`, `target`),
/// `ferry transcode --to`, `--transcode-order` and `--target`: one table, so a name means the
/// same syntax everywhere. Besides these: any DCMTK name (`JPEGLSLossless`) or the UID.
public enum TransferSyntaxNames {
    /// Ferry's names, as the README lists them. `jpeg-lossless` is 4.57 (Process 14, any
    /// predictor; pydicom's JPEGLossless), `jpeg-lossless-sv1` is 4.70.
    public static let canonical: [String: TransferSyntax] = [
        "jpeg-ls-lossless": .jpegLSLossless, "jpeg-ls-near-lossless": .jpegLSNearLossless,
        "j2k-lossless": .jpeg2000Lossless, "j2k": .jpeg2000,
        "jpeg-lossless-sv1": .jpegLosslessSV1, "jpeg-lossless": .jpegLosslessProcess14,
        "jpeg-baseline": .jpegBaseline, "jpeg-extended": .jpegExtended, "rle": .rleLossless,
        "explicit-le": .explicitVRLittleEndian, "implicit-le": .implicitVRLittleEndian,
        "explicit-be": .explicitVRBigEndian, "deflated": .deflatedExplicitVRLittleEndian,
    ]

    /// Shorter spellings `ferry transcode` has always taken (like dcmconv's +ti/+te/+tb).
    public static let aliases: [String: String] = [
        "implicit": "implicit-le", "explicit": "explicit-le", "little": "explicit-le", "big": "explicit-be",
        "jpegls": "jpeg-ls-lossless", "jpeg-ls": "jpeg-ls-lossless", "jpegll": "jpeg-lossless-sv1",
    ]

    /// A transfer syntax by Ferry's name or alias (any case), DCMTK name or UID.
    public static func lookup(_ name: String) -> TransferSyntax? {
        let lower = name.lowercased()
        if let ts = canonical[aliases[lower] ?? lower] { return ts }
        return DCMTKNames.uid(for: name).flatMap(TransferSyntax.lookup)
    }

    /// Ferry's name of `ts`, if it has one.
    public static func name(of ts: TransferSyntax) -> String? {
        canonical.first { $0.value == ts }?.key
    }

    /// The names for an error message.
    public static var listed: String { canonical.keys.sorted().joined(separator: ", ") }
}
