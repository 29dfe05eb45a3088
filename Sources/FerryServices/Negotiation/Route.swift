import FerryCodecs
import FerryDICOM
import FerryNetwork

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

    /// Whether the file must be read and encoded again (not streamed from disk).
    public var isConversion: Bool {
        if case .convert = self { return true }
        return false
    }

    /// Whether choosing `file`'s route may read its first frame's header (`JPEGProbe`): its own
    /// syntax was not accepted for its class, a companion syntax was. Blocking file I/O: a
    /// route that needs it is chosen off the event loops (`FileSender.route`).
    static func needsProbe(_ file: OutgoingFile, accepted: [AcceptedContext]) -> Bool {
        guard let companion = ProposalOptions.companion(of: file.transferSyntax) else { return false }
        let candidates = accepted.filter { $0.abstractSyntax == file.sopClassUID }
        return !candidates.contains { $0.transferSyntax == file.transferSyntax.uid }
            && candidates.contains { $0.transferSyntax == companion.uid }
    }

    /// Chooses a route among the accepted contexts: the policy's target where it applies; else
    /// the file's own syntax (or the PS3.5 10.2 companion its stream is valid for); else the
    /// first syntax of the policy's order that was accepted and that Ferry can produce from
    /// the file (decoding its pixels, or encoding them, as needed), uncompressed syntaxes
    /// first for an uncompressed file.
    public static func choose(
        for file: OutgoingFile, accepted: [AcceptedContext], policy: TranscodingPolicy,
        mustRewrite: Bool = false
    ) -> Route {
        let candidates = accepted.filter { $0.abstractSyntax == file.sopClassUID }
        guard !candidates.isEmpty else {
            return .impossible(
                "no presentation context for \(UIDRegistry.name(of: file.sopClassUID)) was accepted by the peer")
        }
        let own = file.transferSyntax
        func context(_ ts: TransferSyntax) -> AcceptedContext? { candidates.first { $0.transferSyntax == ts.uid } }
        let decodable = !own.isEncapsulated || Codecs.codec(for: own) != nil
        /// Whether Ferry can turn the file into `ts` (and the policy allows it).
        func producible(_ ts: TransferSyntax) -> Bool {
            guard ts != own else { return true }
            guard policy.permits(ts), decodable else { return false }
            return !ts.isEncapsulated || Codecs.encoder(for: ts) != nil
        }

        if let t = policy.target, t != own, t.isEncapsulated || !own.isEncapsulated, producible(t), let pc = context(t)
        {
            return .convert(contextID: pc.id, to: t)
        }
        if let exact = context(own) {
            return mustRewrite
                ? .convert(contextID: exact.id, to: own) : .asIs(contextID: exact.id, transferSyntax: own)
        }
        if let companion = ProposalOptions.companion(of: own), let pc = context(companion),
            let pixels = file.pixelData, let info = JPEGProbe.firstFrame(path: file.path, pixelData: pixels),
            streamIsValid(info, as: companion)
        {
            return mustRewrite
                ? .convert(contextID: pc.id, to: companion) : .asIs(contextID: pc.id, transferSyntax: companion)
        }
        // An uncompressed file goes in another uncompressed syntax where one was accepted (a
        // re-write that leaves the pixels alone); it is compressed only when none was.
        let order =
            own.isEncapsulated
            ? policy.order : policy.order.filter { !$0.isEncapsulated } + policy.order.filter(\.isEncapsulated)
        for ts in order where producible(ts) {
            if let pc = context(ts) { return .convert(contextID: pc.id, to: ts) }
        }
        let offered = candidates.map { TransferSyntax.lookup($0.transferSyntax)?.name ?? $0.transferSyntax }
        let why =
            !decodable
            ? "sending \(own.name) needs transcoding (no decoder for it yet)"
            : "none of them is in the transcoding order, or lossy (allow_lossy is off), or one Ferry cannot encode yet"
        return .impossible(
            "the peer accepted \(UIDRegistry.name(of: file.sopClassUID)) only as \(offered.joined(separator: ", ")); \(why)"
        )
    }

    static func streamIsValid(_ info: JPEGProbe.Info, as companion: TransferSyntax) -> Bool {
        switch companion.uid {
        case TransferSyntax.jpegLosslessSV1.uid: info.sofMarker == 0xC3 && info.selectionValue == 1
        case TransferSyntax.jpegBaseline.uid: info.sofMarker == 0xC0 && info.precision == 8
        default: false
        }
    }
}
