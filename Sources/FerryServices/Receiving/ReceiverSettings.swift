import FerryNetwork
import NIOCore
import NIOSSL
import Synchronization

/// Everything `ferry storescp` is configured with.
public struct ReceiverSettings: Sendable {
    public var host = "0.0.0.0"
    public var port: Int
    public var policy = AcceptancePolicy()
    public var output = StoreOutputOptions()
    public var maxReceivePDU: UInt32 = 16384
    public var timeouts = Timeouts()
    public var tls: NIOSSLContext?
    public var switches = TestSwitches()
    public var hooks = ExecHooks()
    public var limits = ReceiverLimits()
    /// Query/Retrieve over what is stored (ferry qrscp); nil for a plain storage SCP.
    public var queryRetrieve: (any QueryRetrieveProvider)?
    /// Serve C-GET (dcmqrscp's --disable-get turns it off).
    public var queryRetrieveGet = true
    /// C-MOVE sub-operations run over up to this many associations at once
    /// (`--move-associations`); the extra ones only where the destination takes them.
    public var moveAssociations = 4
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

    public init(port: Int) { self.port = port }
}

/// DCMTK storescp's test switches, and two of Ferry's: `status` (answer every C-STORE with
/// it, like dcm4che's storescp --status) and the acceptance policy's exact syntax list.
public struct TestSwitches: Sendable {
    /// --sleep-after: how long to sleep after each store's response.
    public var sleepAfter: TimeAmount = .zero
    /// --sleep-during: how long to sleep between a C-STORE-RQ's command and its data set.
    public var sleepDuring: TimeAmount = .zero
    /// --abort-after: abort after receiving a C-STORE-RQ, before responding.
    public var abortAfter = false
    /// --abort-during: abort while a C-STORE-RQ's data set is arriving.
    public var abortDuring = false
    /// --status: answer every C-STORE-RQ with this status (instances are stored only when
    /// it is a success or warning).
    public var status: DIMSEStatus?
    /// Q/R: sleep this long before each pending response (a slow SCP; a client's cancel then
    /// arrives mid-answer).
    public var sleepBetweenResponses: TimeAmount = .zero
    /// Q/R: answer at most this many matches, then end with `capStatus` (Orthanc's
    /// LimitFindResults ends with FE00; some PACS with A700).
    public var capResults: Int?
    public var capStatus = DIMSEStatus(0xFE00)
    /// Q/R: sleep this long before the final response (a long stall is a peer that never
    /// ends the operation: the client's DIMSE timeout must end it).
    public var stallBeforeFinal: TimeAmount = .zero
    /// Q/R: abort the association after this many pending responses, once (a peer that dies
    /// mid-operation, then serves again).
    public var abortAfterResponses: Int?
    let abortsDone = StoreCounter()
    /// Store the n-th instance received, then abort before its response (once): a store whose
    /// outcome the sender cannot know, though the instance is held.
    public var abortAfterStoring: Int?
    /// Stores received so far (for `abortAfterStoring`).
    let storesReceived = StoreCounter()
    public init() {}
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

/// Counts events across a receiver's associations (stores taken, aborts done).
final class StoreCounter: Sendable {
    private let count = Mutex(0)
    func next() -> Int {
        count.withLock { n in
            n += 1
            return n
        }
    }
}
