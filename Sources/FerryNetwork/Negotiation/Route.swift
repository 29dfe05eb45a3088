import FerryCodecs
import FerryDICOM

/// How one file travels on an established association.
public enum Route: Sendable, Equatable {
    /// The file's data set bytes as they are, streamed from disk, declared as `transferSyntax`
    /// (the file's own, or a companion its stream is valid for).
    case asIs(contextID: UInt8, transferSyntax: TransferSyntax)
    /// Read the data set and encode it again in another unencapsulated syntax (explicit/implicit,
    /// little/big endian, deflated), or in its own when its content must change (+II, -u).
    case convert(contextID: UInt8, to: TransferSyntax)
    /// Nothing accepted can carry it; the reason names what is missing.
    case impossible(String)

    /// Chooses a route among the accepted contexts, as DCMTK storescu does: the file's own
    /// syntax if accepted (deflated first when deflate is preferred, as DCMTK's special case),
    /// then the preferred syntax, then explicit little endian, implicit, deflated, big endian.
    public static func choose(for file: OutgoingFile, accepted: [AcceptedContext], preferred: TransferSyntax? = nil,
                              mustRewrite: Bool = false) -> Route {
        let candidates = accepted.filter { $0.abstractSyntax == file.sopClassUID }
        guard !candidates.isEmpty else {
            return .impossible("no presentation context for \(UIDRegistry.name(of: file.sopClassUID)) was accepted by the peer")
        }
        let own = file.transferSyntax
        if preferred == .deflatedExplicitVRLittleEndian, !own.isEncapsulated, own != preferred,
           let pc = candidates.first(where: { $0.transferSyntax == TransferSyntax.deflatedExplicitVRLittleEndian.uid }) {
            return .convert(contextID: pc.id, to: .deflatedExplicitVRLittleEndian)
        }
        if let exact = candidates.first(where: { $0.transferSyntax == own.uid }) {
            return mustRewrite ? .convert(contextID: exact.id, to: own) : .asIs(contextID: exact.id, transferSyntax: own)
        }
        if own.isEncapsulated {
            if let companion = ProposalOptions.companion(of: own),
               let pc = candidates.first(where: { $0.transferSyntax == companion.uid }),
               let pixels = file.pixelData, let info = JPEGProbe.firstFrame(path: file.path, pixelData: pixels),
               streamIsValid(info, as: companion) {
                return mustRewrite ? .convert(contextID: pc.id, to: companion) : .asIs(contextID: pc.id, transferSyntax: companion)
            }
            // A codec for the file's syntax: decode to an uncompressed syntax the peer took.
            if Codecs.codec(for: own) != nil {
                for ts in [TransferSyntax.explicitVRLittleEndian, .implicitVRLittleEndian, .explicitVRBigEndian] {
                    if let pc = candidates.first(where: { $0.transferSyntax == ts.uid }) { return .convert(contextID: pc.id, to: ts) }
                }
            }
            let offered = candidates.map { TransferSyntax.lookup($0.transferSyntax)?.name ?? $0.transferSyntax }
            return .impossible("the peer accepted \(UIDRegistry.name(of: file.sopClassUID)) only as \(offered.joined(separator: ", ")); "
                               + "sending \(own.name) needs transcoding (\(Codecs.codec(for: own) == nil ? "no decoder for it yet" : "no common syntax"))")
        }
        let preference: [TransferSyntax] = (preferred.map { $0.isEncapsulated ? [] : [$0] } ?? []) + [.explicitVRLittleEndian, .implicitVRLittleEndian, .deflatedExplicitVRLittleEndian, .explicitVRBigEndian]
        for ts in preference {
            if let pc = candidates.first(where: { $0.transferSyntax == ts.uid }) { return .convert(contextID: pc.id, to: ts) }
        }
        // Only compressed syntaxes accepted: encode losslessly where Ferry has the codec.
        for pc in candidates {
            if let ts = TransferSyntax.lookup(pc.transferSyntax), ts.isLossless, Codecs.encoder(for: ts) != nil {
                return .convert(contextID: pc.id, to: ts)
            }
        }
        let offered = candidates.map { TransferSyntax.lookup($0.transferSyntax)?.name ?? $0.transferSyntax }
        return .impossible("the peer accepted \(UIDRegistry.name(of: file.sopClassUID)) only as \(offered.joined(separator: ", ")); "
                           + "compressing \(own.name) needs an encoder Ferry does not have yet")
    }

    static func streamIsValid(_ info: JPEGProbe.Info, as companion: TransferSyntax) -> Bool {
        switch companion.uid {
        case TransferSyntax.jpegLosslessSV1.uid: info.sofMarker == 0xC3 && info.selectionValue == 1
        case TransferSyntax.jpegBaseline.uid: info.sofMarker == 0xC0 && info.precision == 8
        default: false
        }
    }
}
