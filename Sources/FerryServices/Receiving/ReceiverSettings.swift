import FerryNetwork
import NIOCore
import NIOSSL

/// Everything `ferry storescp` is configured with.
public struct ReceiverSettings: Sendable {
    public var host = "0.0.0.0"
    public var port: Int
    public var policy = AcceptancePolicy()
    public var output = StoreOutputOptions()
    public var maxReceivePDU: UInt32 = 16384
    public var timeouts = Timeouts()
    public var tls: NIOSSLContext?
    /// Test switches: faults injected at named points of the services.
    public var faults = FaultInjection()
    public var hooks = ExecHooks()
    public var limits = ReceiverLimits()
    /// Query/Retrieve over what is stored (ferry qrscp); nil for a plain storage SCP.
    public var queryRetrieve: (any QueryRetrieveProvider)?
    /// Serve C-GET (dcmqrscp's --disable-get turns it off).
    public var queryRetrieveGet = true
    /// C-MOVE sub-operations run over up to this many associations at once
    /// (`--move-associations`); the extra ones only where the destination takes them.
    public var moveAssociations = 4
    /// A C-MOVE's or C-GET's instances read and sent at a time (their headers first): a
    /// retrieve of a whole archive holds one page.
    public var retrievePage = 10_000
    /// TLS for the C-MOVE sub-associations (ferry qrscp's +tls: its key and certificate,
    /// and the peers it trusts, as for incoming associations).
    public var moveTLS: TLSClient?
    /// How the C-MOVE sub-associations propose their contexts (dcmqrscp's -x? and -xf's
    /// outgoing profile).
    public var moveProposal = ProposalOptions()
    /// The most operations granted each way when a requestor proposes an Asynchronous
    /// Operations Window (a C-GET's sub-operations are sent up to it before their responses).
    public var asyncWindowGrant: UInt16 = 16
    /// dcmqrscp's --require-find: a MOVE or GET context is refused unless the same model's
    /// FIND context is accepted on the association.
    public var requireFind = false
    /// dcmqrscp's --no-parallel-store (nil: stores from any number of associations at once).
    public var storageClaims: StorageClaims?
    /// dcmqrscp's -to: how long a C-MOVE sub-association may take to connect.
    public var moveConnectTimeout: TimeAmount?

    /// Storage commitment served as SCP (ferry storescp --storage-commitment, ferry qrscp).
    public var commitment: CommitmentService?
    /// Storage commitment reports taken as SCU: Ferry's own listener during a run.
    public var commitmentInbox: CommitmentInbox?
    /// Told of every instance kept, before its success response goes (a pull run's C-MOVE
    /// receiver matches the instances against its moves so).
    public var onKept: (@Sendable (KeptInstance) -> Void)?

    public init(port: Int) { self.port = port }
}

/// An instance the receiver kept: which one (the file's own UIDs, checked against the
/// command), where, and from whom.
public struct KeptInstance: Sendable {
    public var reference: SOPReference
    public var study: String
    public var path: String
    public var callingAE: String
}

/// DCMTK storescp's -xcr/-xcs/-rns/-tos/-xs: commands run on reception and at the end of a
/// study, with placeholders #p (directory), #f (file name, -xcr only), #a (calling AE),
/// #c (called AE), #r (the peer's address).
public struct ExecHooks: Sendable {
    public var onReception: String?
    public var onEndOfStudy: String?
    public var renameOnEndOfStudy = false
    public var endOfStudyTimeout: TimeAmount?
    public var synchronous = false
    public init() {}

    var needsStudyTracking: Bool { onEndOfStudy != nil || renameOnEndOfStudy || endOfStudyTimeout != nil }
}
