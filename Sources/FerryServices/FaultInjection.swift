import FerryNetwork
import Glibc
import Logging
import NIOCore
import Synchronization

/// The faults a test asks for: the receiver's (DCMTK storescp's test switches --sleep-after,
/// --abort-during, ..., dcm4che's `--status`, Ferry's own for Q/R and storage) and the sender's
/// (a decoder that kills the process). One value, consulted at named points (`apply(_:)`,
/// `applyToStorageWrite`, `applyBeforeDecoding`), so that no code path branches on a switch of
/// its own.
public struct FaultInjection: Sendable {
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
    /// Store the n-th instance received, then abort before its response (once): a store whose
    /// outcome the sender cannot know, though the instance is held.
    public var abortAfterStoring: Int?
    /// --block-storage: the first store's write blocks the thread that does it this long (a
    /// stalled disk or index), to show that other associations are served meanwhile.
    public var blockStorage: TimeAmount = .zero
    /// Q/R: sleep this long before each pending response (a slow SCP; a client's cancel then
    /// arrives mid-answer).
    public var sleepBetweenResponses: TimeAmount = .zero
    /// Q/R: C-MOVE and C-GET send no pending responses (PS3.4 makes them optional; some
    /// PACS send none): the requestor hears nothing until the final response.
    public var noPendingResponses = false
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

    /// Sender: the process aborts when it re-encodes a file of this name, as a codec that traps
    /// would (`ferry run --fault-abort-decoding NAME`, for the test of crash isolation).
    public var abortDecoding: String?

    /// Events counted across the receiver's associations, for the faults that happen once.
    private let counters = Counters()

    public init() {}

    /// The named points of the services where a fault may be injected.
    public enum Point: Sendable {
        /// A C-STORE-RQ's command has arrived, its data set not yet.
        case storeCommand
        /// A fragment of a C-STORE data set has arrived.
        case storeFragment
        /// The whole data set has arrived; nothing is kept yet.
        case storeReceived
        /// The instance is kept; its response is not sent.
        case storeKept
        /// The store's response has been sent.
        case storeAnswered
        /// A Q/R pending response is about to go, after `sent` others.
        case pendingResponse(sent: Int)
        /// A Q/R final response is about to go.
        case finalResponse
    }

    /// The faults configured for `point`: sleeps, or an error that aborts the association.
    func apply(_ point: Point, logger: Logger) async throws {
        switch point {
        case .storeCommand:
            try await sleep(sleepDuring, "during the store (--sleep-during)", logger)
        case .storeFragment:
            if abortDuring { throw abort("aborting during the data set (--abort-during)", logger) }
        case .storeReceived:
            if abortAfter { throw abort("aborting after the C-STORE-RQ (--abort-after)", logger) }
        case .storeKept:
            if let n = abortAfterStoring, counters.stores.next() == n {
                throw abort("stored, aborting before the C-STORE-RSP (--abort-after-storing \(n))", logger)
            }
        case .storeAnswered:
            try await sleep(sleepAfter, "after the store (--sleep-after)", logger)
        case .pendingResponse(let sent):
            if let n = abortAfterResponses, sent >= n, counters.aborts.next() == 1 {
                throw abort("Aborting after \(n) pending responses (--abort-after-responses)", logger)
            }
            try await sleep(sleepBetweenResponses, nil, logger)
        case .finalResponse:
            try await sleep(stallBeforeFinal, "before the final response (--stall-before-final)", logger)
        }
    }

    /// On the thread that writes a store (a pool thread): --block-storage's stall, once.
    func applyToStorageWrite(logger: Logger) {
        guard blockStorage > .zero, counters.blocks.next() == 1 else { return }
        logger.info("blocking the storage write \(seconds(blockStorage)) s (--block-storage)")
        let ns = blockStorage.nanoseconds
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
    }

    /// On the thread about to decode `path` for re-encoding: --fault-abort-decoding's crash.
    func applyBeforeDecoding(_ path: String) {
        guard let name = abortDecoding, path.hasSuffix("/" + name) else { return }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)  // no core file left by the test
        Glibc.abort()
    }

    /// Whether the store of an instance is answered with a forced status instead of storing it.
    var refusesStores: Bool { status.map { !$0.isSuccessOrWarning } ?? false }

    private func sleep(_ amount: TimeAmount, _ what: String?, _ logger: Logger) async throws {
        guard amount > .zero else { return }
        if let what { logger.info("sleeping \(seconds(amount)) s \(what)") }
        try await Task.sleep(for: .nanoseconds(amount.nanoseconds))
    }

    private func abort(_ what: String, _ logger: Logger) -> AssociationError {
        logger.info("\(what)")
        return AssociationError.protocolError("aborted by a test switch")
    }

    private func seconds(_ amount: TimeAmount) -> Double { Double(amount.nanoseconds) / 1e9 }

    private final class Counters: Sendable {
        let stores = Counter()
        let aborts = Counter()
        let blocks = Counter()
    }
}

/// Counts events across a receiver's associations.
final class Counter: Sendable {
    private let count = Mutex(0)
    func next() -> Int {
        count.withLock { n in
            n += 1
            return n
        }
    }
}
