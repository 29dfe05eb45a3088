import FerryCodecs
import FerryDICOM
import FerryNetwork

/// What the sender may do with a file whose own transfer syntax the destination did not
/// accept: re-encode it to the first syntax of `order` that was accepted and that Ferry can
/// produce from it. Lossless re-encodings are verified by decoding (`verify`); lossy targets
/// are used only with `allowLossy`. `target` compresses everything to one syntax first.
public struct TranscodingPolicy: Sendable, Equatable {
    public var order: [TransferSyntax]
    public var allowLossy = false
    public var target: TransferSyntax?
    public var verify = true
    /// The most decoded pixel data one file may need (see `Transcoder.pixelBudget`).
    public var pixelBudget = Transcoder.defaultPixelBudget

    /// JPEG-LS lossless, JPEG 2000 lossless, JPEG lossless SV1, RLE, explicit LE, implicit LE.
    public static let defaultOrder: [TransferSyntax] = [
        .jpegLSLossless, .jpeg2000Lossless, .jpegLosslessSV1, .rleLossless,
        .explicitVRLittleEndian, .implicitVRLittleEndian,
    ]

    public init(
        order: [TransferSyntax] = defaultOrder, allowLossy: Bool = false, target: TransferSyntax? = nil,
        verify: Bool = true, pixelBudget: Int = Transcoder.defaultPixelBudget
    ) {
        self.order = order
        self.allowLossy = allowLossy
        self.target = target
        self.verify = verify
        self.pixelBudget = pixelBudget
    }

    /// DCMTK storescu's choice for a file whose own syntax was refused: the -x preferred
    /// uncompressed syntax, explicit LE, implicit LE, deflated, big endian; then, where only
    /// compressed syntaxes were accepted, the lossless ones Ferry can write. A -xd preference
    /// deflates every uncompressed file (DCMTK's special case), which `target` expresses.
    public static func dcmtk(preferred: TransferSyntax?) -> TranscodingPolicy {
        let native: [TransferSyntax] = [
            .explicitVRLittleEndian, .implicitVRLittleEndian, .deflatedExplicitVRLittleEndian, .explicitVRBigEndian,
        ]
        let first = preferred.map { $0.isEncapsulated ? [] : [$0] } ?? []
        let compressed =
            [preferred].compactMap { $0 }.filter { $0.isEncapsulated && $0.isLossless }
            + defaultOrder.filter(\.isEncapsulated)
        var order: [TransferSyntax] = []
        for ts in first + native + compressed where !order.contains(ts) { order.append(ts) }
        return TranscodingPolicy(order: order, target: preferred == .deflatedExplicitVRLittleEndian ? preferred : nil)
    }

    /// Whether the policy allows producing `ts` (lossy syntaxes only with allowLossy).
    public func permits(_ ts: TransferSyntax) -> Bool { ts.isLossless || allowLossy }

    /// The syntaxes to propose for a SOP class besides the -x ones and the file's own: the
    /// target and the compressed syntaxes of the order that Ferry can write, one context each,
    /// so the destination says which of them it takes and the order picks the best.
    public var proposed: [TransferSyntax] {
        var out: [TransferSyntax] = []
        for ts in [target].compactMap({ $0 }) + order.filter(\.isEncapsulated)
        where permits(ts) && (!ts.isEncapsulated || Codecs.encoder(for: ts) != nil) && !out.contains(ts) {
            out.append(ts)
        }
        return out
    }
}
