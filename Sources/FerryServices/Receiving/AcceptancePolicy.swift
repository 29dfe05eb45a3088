import FerryDICOM
import FerryNetwork
import Glibc

/// How the acceptor answers A-ASSOCIATE-RQ (DCMTK storescp's negotiation options, plus an
/// allow-list of calling AE titles and an exact transfer syntax list for tests).
public struct AcceptancePolicy: Sendable {
    /// DCMTK storescp's "preferred network transfer syntaxes" options.
    public enum Preference: String, Sendable {
        case uncompressed  // +x=  explicit VR local byte order first (default)
        case little  // +xe
        case big  // +xb
        case implicit  // +xi  implicit VR little endian only
        case lossless  // +xs  JPEG lossless SV1 first
        case jpeg8  // +xy
        case jpeg12  // +xx
        case j2kLossless  // +xv
        case j2kLossy  // +xw
        case jlsLossless  // +xt
        case jlsLossy  // +xu
        case rle  // +xr
        case deflated  // +xd
        case all  // +xa  every supported syntax

        /// Transfer syntaxes accepted, best first.
        public var syntaxes: [TransferSyntax] {
            let uncompressed: [TransferSyntax] = [
                .explicitVRLittleEndian, .explicitVRBigEndian, .implicitVRLittleEndian,
            ]
            switch self {
            case .uncompressed, .little: return uncompressed
            case .big: return [.explicitVRBigEndian, .explicitVRLittleEndian, .implicitVRLittleEndian]
            case .implicit: return [.implicitVRLittleEndian]
            case .lossless: return [.jpegLosslessSV1] + uncompressed
            case .jpeg8: return [.jpegBaseline] + uncompressed
            case .jpeg12: return [.jpegExtended] + uncompressed
            case .j2kLossless: return [.jpeg2000Lossless] + uncompressed
            case .j2kLossy: return [.jpeg2000] + uncompressed
            case .jlsLossless: return [.jpegLSLossless] + uncompressed
            case .jlsLossy: return [.jpegLSNearLossless] + uncompressed
            case .rle: return [.rleLossless] + uncompressed
            case .deflated: return [.deflatedExplicitVRLittleEndian] + uncompressed
            case .all:
                // Compressed first, lossless before lossy, so a sender that offers its file's own
                // syntax next to uncompressed ones sends it as it is (DCMTK's +xa also puts the
                // compressed syntaxes first); then deflated and the uncompressed ones.
                let encapsulated = TransferSyntax.known.filter { $0.isEncapsulated && $0 != .encapsulatedUncompressed }
                return encapsulated.filter(\.isLossless) + encapsulated.filter { !$0.isLossless }
                    + [.deflatedExplicitVRLittleEndian] + uncompressed
            }
        }
    }

    /// An allowed peer: calling AE title, optionally bound to a host address.
    public struct Peer: Sendable, Equatable {
        public var aeTitle: String
        public var host: String?
        public init(aeTitle: String, host: String? = nil) {
            self.aeTitle = aeTitle
            self.host = host
        }
    }

    public var aeTitle = "STORESCP"
    public var preference: Preference = .uncompressed
    /// --accept-ts: accept exactly these syntaxes (in this order of preference).
    public var acceptedSyntaxes: [String]?
    /// -xf: a profile's contexts decide (abstract syntax -> acceptable syntaxes).
    public var profile: AssociationConfigFile.Profile?
    /// -pm: accept SOP classes not in the dictionary.
    public var promiscuous = false
    /// Calling AE titles allowed (nil: anyone). When set, the called AE must be ours too.
    public var allowedPeers: [Peer]?
    /// Addresses associations are taken from (nil: any): Ferry's commitment listener takes
    /// reports only from the destination's host.
    public var allowedHosts: [String]?
    /// --refuse: reject every association.
    public var refuseAll = false
    /// --reject: reject associations without an implementation class UID.
    public var rejectWithoutImplementationUID = false
    /// Query/Retrieve SOP classes served (ferry qrscp), accepted in the uncompressed syntaxes.
    public var queryRetrieveSOPClasses: Set<String> = []
    /// Storage Commitment Push Model accepted (as SCP or, on a listener, for its reports).
    public var storageCommitment = false

    public init() {}

    /// A storage commitment requestor's listener: Verification and the reports of the Push
    /// Model, nothing stored.
    public static func commitmentListener(aeTitle: String) -> AcceptancePolicy {
        var p = AcceptancePolicy()
        p.aeTitle = aeTitle
        p.storageCommitment = true
        let uncompressed = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        p.profile = AssociationConfigFile.Profile(
            name: "commitment-listener",
            contexts: [
                (UIDRegistry.verificationSOPClass, uncompressed), (StorageCommitment.sopClass, uncompressed),
            ], roles: [])
        return p
    }

    /// The answer to a request from `host`: an acceptance with a result per context, or a
    /// rejection and why (for the log).
    public enum Answer: Sendable {
        case accept([PresentationContextResult])
        case reject(AssociateRJ, why: String)
    }

    public func evaluate(_ rq: AssociateRQ, host: String?) -> Answer {
        if refuseAll { return .reject(.noReason, why: "refusing every association (--refuse)") }
        if rq.applicationContext != dicomApplicationContext {
            return .reject(
                .applicationContextNotSupported, why: "application context \(rq.applicationContext.escapedForLog())")
        }
        if rq.protocolVersion & 1 == 0 {
            return .reject(.protocolVersionNotSupported, why: "protocol version \(rq.protocolVersion)")
        }
        if rejectWithoutImplementationUID && rq.userInformation.implementationClassUID.isEmpty {
            return .reject(.noReason, why: "no implementation class UID (--reject)")
        }
        if let hosts = allowedHosts, !hosts.contains(where: { Self.sameAddress($0, host ?? "") }) {
            return .reject(.noReason, why: "\((host ?? "?").escapedForLog()) is not an allowed host")
        }
        if let allowed = allowedPeers {
            let known = allowed.contains {
                $0.aeTitle == rq.callingAE && ($0.host == nil || Self.sameAddress($0.host ?? "", host ?? ""))
            }
            guard known else {
                return .reject(
                    .callingAENotRecognized,
                    why: "calling AE \"\(rq.callingAE.escapedForLog())\" from \(host ?? "?") is not allowed")
            }
            guard rq.calledAE == aeTitle else {
                return .reject(
                    .calledAENotRecognized, why: "called AE \"\(rq.calledAE.escapedForLog())\" is not \"\(aeTitle)\"")
            }
        }
        return .accept(rq.presentationContexts.map(answer))
    }

    private func answer(_ pc: PresentationContextProposal) -> PresentationContextResult {
        func result(_ r: PresentationContextResult.Result, _ ts: String = "") -> PresentationContextResult {
            PresentationContextResult(id: pc.id, result: r, transferSyntax: ts)
        }
        let acceptable: [String]
        let listed = profile?.contexts.filter { $0.abstractSyntax == pc.abstractSyntax }.map(\.transferSyntaxes)
        // A profile decides, except that an archive's Query/Retrieve classes it leaves out are
        // served as usual (a storescp profile reused for ferry qrscp keeps Q/R working).
        if let listed, !listed.isEmpty || !queryRetrieveSOPClasses.contains(pc.abstractSyntax) {
            guard !listed.isEmpty else { return result(.abstractSyntaxNotSupported) }
            acceptable = listed.flatMap { $0 }
        } else {
            guard supports(pc.abstractSyntax) else { return result(.abstractSyntaxNotSupported) }
            acceptable =
                pc.abstractSyntax == UIDRegistry.verificationSOPClass
                    || queryRetrieveSOPClasses.contains(pc.abstractSyntax)
                    || pc.abstractSyntax == StorageCommitment.sopClass
                ? [
                    TransferSyntax.implicitVRLittleEndian.uid, TransferSyntax.explicitVRLittleEndian.uid,
                    TransferSyntax.explicitVRBigEndian.uid,
                ]
                : acceptedSyntaxes ?? preference.syntaxes.map(\.uid)
        }
        // Our order of preference decides among what the requestor offers.
        guard let ts = acceptable.first(where: { pc.transferSyntaxes.contains($0) }) else {
            return result(.transferSyntaxesNotSupported)
        }
        return result(.acceptance, ts)
    }

    /// Verification, every Storage SOP class of the dictionary, and with -pm anything that
    /// is a syntactically valid UID.
    public func supports(_ sopClass: String) -> Bool {
        if sopClass == UIDRegistry.verificationSOPClass { return true }
        if queryRetrieveSOPClasses.contains(sopClass) { return true }
        if storageCommitment && sopClass == StorageCommitment.sopClass { return true }
        if Self.storageClasses.contains(sopClass) { return true }
        return promiscuous && UIDGrammar.isValid(sopClass)
    }

    static let storageClasses = Set(UIDRegistry.storageSOPClasses.map(\.uid))

    /// True when two textual addresses name the same host: IPv6 in any spelling ("::1",
    /// "0:0::1"), an IPv4-mapped IPv6 address and its IPv4 form; names compare as written.
    public static func sameAddress(_ a: String, _ b: String) -> Bool {
        func bytes(_ text: String) -> [UInt8]? {
            var v4 = in_addr(), v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 {
                return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + withUnsafeBytes(of: &v4) { Array($0) }
            }
            if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
            return nil
        }
        guard let x = bytes(a), let y = bytes(b) else { return a == b }
        return x == y
    }
}
