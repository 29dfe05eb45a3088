import FerryDICOM
import FerryNetwork
import Logging

/// What every service handler of an accepted association shares: the association, the
/// receiver's settings, who the peer is and what was negotiated. Owned by the association's
/// task, as the association is.
final class SessionContext {
    let association: Association
    let settings: ReceiverSettings
    let logger: Logger
    /// host:port ([host]:port for IPv6), for the logs and hooks.
    let peer: String
    /// The peer's address alone, for allow-lists and move destinations.
    let peerHost: String
    /// What extended negotiation granted, by SOP class.
    let negotiated: [String: [UInt8]]

    var callingAE: String { association.callingAE }
    var calledAE: String { association.calledAE }
    var faults: FaultInjection { settings.faults }

    init(association: Association, settings: ReceiverSettings, logger: Logger, peer: String, peerHost: String) {
        self.association = association
        self.settings = settings
        self.logger = logger
        self.peer = peer
        self.peerHost = peerHost
        negotiated = Dictionary(
            association.acceptance.userInformation.extendedNegotiations.map { ($0.sopClass, $0.info) }
        ) { a, _ in a }
    }

    /// The encoding of data sets on presentation context `contextID`.
    func encoding(_ contextID: UInt8) -> Encoding {
        Encoding(TransferSyntax.lookup(association.context(contextID)?.transferSyntax ?? "") ?? .implicitVRLittleEndian)
    }
}
