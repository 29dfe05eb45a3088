import FerryDICOM
import NIOCore

/// What the requestor asks for in A-ASSOCIATE-RQ.
public struct AssociationParameters: Sendable {
    public var callingAE = "STORESCU"
    public var calledAE = "ANY-SCP"
    /// Our maximum receive PDU (DCMTK -pdu, default 16384); 0 = unlimited.
    public var maxReceivePDU: UInt32 = 16384
    /// Upper bound on the P-DATA PDUs we send, below the peer's maximum (DCMTK --max-send-pdu).
    public var maxSendPDU: UInt32?
    public var presentationContexts: [PresentationContextProposal] = []
    public var userIdentity: UserIdentity?
    public var roleSelections: [RoleSelection] = []
    public var extendedNegotiations: [ExtendedNegotiation] = []
    /// Asynchronous Operations Window to propose (PS3.7 D.3.3.3); nil: none (one at a time).
    public var asyncOperationsWindow: AsyncOperationsWindow?
    public var implementationClassUID = UIDGenerator.implementationClassUID
    public var implementationVersionName = UIDGenerator.implementationVersionName

    public init() {}

    /// The longest timeout an option may set, in seconds (DCMTK's limit: a 32-bit int).
    public static let longest = Double(Int32.max)

    var request: AssociateRQ {
        var info = UserInformation(
            maxLength: maxReceivePDU, implementationClassUID: implementationClassUID,
            implementationVersionName: implementationVersionName)
        info.userIdentity = userIdentity
        info.roleSelections = roleSelections
        info.extendedNegotiations = extendedNegotiations
        info.asyncOperationsWindow = asyncOperationsWindow
        return AssociateRQ(
            calledAE: calledAE, callingAE: callingAE, presentationContexts: presentationContexts, userInformation: info)
    }
}

/// The timeouts of an association (DCMTK -to, -ta, -td, -ts). nil = wait without limit.
public struct Timeouts: Sendable {
    /// TCP connect (DCMTK -to; default: the system's).
    public var connect: TimeAmount? = nil
    /// A-ASSOCIATE-AC/RJ and A-RELEASE-RP (DCMTK -ta, default 30 s).
    public var acse: TimeAmount? = .seconds(30)
    /// Waiting for a DIMSE response (DCMTK -td; default: unlimited, bounded by `socket`).
    public var dimse: TimeAmount? = nil
    /// Any single network read or write (DCMTK -ts, default 60 s; 0/nil for none).
    public var socket: TimeAmount? = .seconds(60)

    public init() {}

    /// The longest timeout an option may set, in seconds (DCMTK's limit: a 32-bit int).
    public static let longest = Double(Int32.max)

    /// How long to wait for a DIMSE message: the DIMSE timeout, else the socket timeout.
    public var dimseWait: TimeAmount? { dimse ?? socket }
}

/// A presentation context the acceptor took, with the transfer syntax it chose.
public struct AcceptedContext: Sendable, Equatable {
    public var id: UInt8
    public var abstractSyntax: String
    public var transferSyntax: String

    public init(id: UInt8, abstractSyntax: String, transferSyntax: String) {
        self.id = id
        self.abstractSyntax = abstractSyntax
        self.transferSyntax = transferSyntax
    }
}
