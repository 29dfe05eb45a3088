import FerryDICOM
import FerryNetwork

/// How presentation contexts are proposed, with DCMTK storescu's semantics (its -x options,
/// -R, +C and -xf), plus Ferry's rule that a file's own encapsulated transfer syntax is
/// always proposed (with its PS3.5 10.2 default companion) so it can be sent as it is.
public struct ProposalOptions: Sendable {
    /// DCMTK's "proposed transmission transfer syntaxes" options.
    public enum Preference: String, Sendable, CaseIterable {
        case uncompressed  // -x=  explicit VR, local byte order first (little endian here)
        case little  // -xe
        case big  // -xb
        case implicit  // -xi  implicit VR little endian only
        case lossless  // -xs  JPEG lossless SV1 (4.70)
        case jpeg8  // -xy  JPEG baseline (4.50)
        case jpeg12  // -xx  JPEG extended (4.51)
        case j2kLossless  // -xv  JPEG 2000 lossless (4.90)
        case j2kLossy  // -xw  JPEG 2000 (4.91)
        case jlsLossless  // -xt  JPEG-LS lossless (4.80)
        case jlsLossy  // -xu  JPEG-LS near-lossless (4.81)
        case rle  // -xr  RLE lossless (1.2.5)
        case deflated  // -xd  deflated explicit VR little endian

        public var preferred: TransferSyntax {
            switch self {
            case .uncompressed, .little: .explicitVRLittleEndian
            case .big: .explicitVRBigEndian
            case .implicit: .implicitVRLittleEndian
            case .lossless: .jpegLosslessSV1
            case .jpeg8: .jpegBaseline
            case .jpeg12: .jpegExtended
            case .j2kLossless: .jpeg2000Lossless
            case .j2kLossy: .jpeg2000
            case .jlsLossless: .jpegLSLossless
            case .jlsLossy: .jpegLSNearLossless
            case .rle: .rleLossless
            case .deflated: .deflatedExplicitVRLittleEndian
            }
        }

        /// The uncompressed syntaxes proposed in the second context: none after implicit
        /// (the default syntax everyone supports), otherwise the three minus the preferred one.
        public var fallbacks: [TransferSyntax] {
            if self == .implicit { return [] }
            return [.explicitVRLittleEndian, .explicitVRBigEndian, .implicitVRLittleEndian].filter { $0 != preferred }
        }
    }

    public var preference: Preference = .uncompressed
    /// -R: only the SOP classes of the input files (default: also DCMTK's 64 default classes).
    public var requiredOnly = false
    /// +C: one context per SOP class with all transfer syntaxes.
    public var combine = false
    /// -xf: contexts from a DCMTK association negotiation profile instead of the -x options.
    public var profile: AssociationConfigFile.Profile?
    /// A pipeline's transcoding policy: its syntaxes are proposed, one context each, for the
    /// SOP classes of the files (nil for storescu, which proposes what DCMTK's does).
    public var transcoding: TranscodingPolicy?

    public init() {}

    /// The contexts (as transfer syntax lists) the -x/+C options give one SOP class.
    var dcmtkContexts: [[String]] {
        let preferred = [preference.preferred.uid]
        let fallbacks = preference.fallbacks.map(\.uid)
        if combine { return [preferred + fallbacks] }
        return fallbacks.isEmpty ? [preferred] : [preferred, fallbacks]
    }

    /// PS3.5 10.2: the default transfer syntax of a JPEG family, which a receiver of that
    /// family must accept. A file in 4.57 whose stream uses predictor 1 is valid 4.70;
    /// a baseline (SOF0) 8-bit stream in 4.51 is valid 4.50.
    public static func companion(of ts: TransferSyntax) -> TransferSyntax? {
        switch ts.uid {
        case TransferSyntax.jpegLosslessProcess14.uid: .jpegLosslessSV1
        case TransferSyntax.jpegExtended.uid: .jpegBaseline
        default: nil
        }
    }
}
