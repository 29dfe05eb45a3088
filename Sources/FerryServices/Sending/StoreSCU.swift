import FerryDICOM
import FerryNetwork
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Settings of a storage run (what DCMTK storescu's options describe).
public struct StoreSettings: Sendable {
    public var host: String
    public var port: Int
    public var association = AssociationParameters()
    public var timeouts = Timeouts()
    public var tls: TLSClient?
    public var proposal = ProposalOptions()
    /// DCMTK's rules: every file once, and a store without a status stops the run (with
    /// `.dcmtk(halt: false)`, --no-halt, the run goes on, on a new association if the current
    /// one died).
    public var retryPolicy = RetryPolicy.dcmtk(halt: true)
    /// Send each file this many times (DCMTK --repeat).
    public var repeatCount = 1
    /// Stores in flight before their responses (where the association's window allows).
    public var asyncWindow = 1
    /// End associations with A-ABORT instead of A-RELEASE (DCMTK --abort).
    public var abortInsteadOfRelease = false
    public var conversion = DataSetConversion()
    public var invention: UIDInvention?
    public var priority: Priority = .medium
    /// For C-MOVE sub-operations: the Move Originator AE title and Message ID every
    /// C-STORE-RQ carries (PS3.7 9.3.1.1).
    public var moveOriginator: (aeTitle: String, messageID: UInt16)?
    /// When set, no further file is sent (a C-CANCEL of the C-MOVE they serve).
    public var stop: StopFlag?
    /// Called with each file's outcome as it is known (a C-MOVE's pending responses).
    public var onOutcome: (@Sendable (StoreOutcome) -> Void)?
    /// Files shared with other StoreSCUs (a C-MOVE's several sub-associations).
    public var share: SharedWork?
    /// An extra association the destination may refuse or leave waiting: if it cannot be
    /// opened within the ACSE timeout, its files go back to `share` for the others.
    public var optionalAssociation = false

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// What happened to one file.
public struct StoreOutcome: Sendable {
    public var path: String
    public var sopInstanceUID: String
    /// The response status, when a C-STORE-RSP was read.
    public var status: DIMSEStatus?
    public var errorComment: String?
    /// Why no status was obtained: no context could carry the file (`.noContext`), the file
    /// could not be read or re-encoded (`.unreadableFile`, `.preparation`), the association
    /// failed mid-store (`.association`: outcome unknown, the peer may have stored it), or no
    /// association could be opened (`.unreachable`).
    public var error: ServiceError?
    public var sentAs: TransferSyntax?
    public var bytes: Int = 0

    public var succeeded: Bool { status?.isSuccessOrWarning ?? false }

    public init(
        path: String, sopInstanceUID: String, status: DIMSEStatus? = nil, error: ServiceError? = nil
    ) {
        self.path = path
        self.sopInstanceUID = sopInstanceUID
        self.status = status
        self.error = error
    }
}

/// Sends files with C-STORE over as many associations as the plan needs (DCMTK storescu's
/// job, with its exit-code convention), reporting every file's outcome. It drives the same
/// `SendStateMachine` as `ferry run`, with DCMTK's `RetryPolicy` and a journal in memory.
public final class StoreSCU: SendLoopDelegate {
    public let settings: StoreSettings
    let logger: Logger
    private var invention: UIDInvention?

    /// DCMTK storescu's exit codes (3.6.7): 0 success; 1 no association; 10 a store failed
    /// without a status (network error, no presentation context); status >> 8 for a failure status.
    public private(set) var exitCode: Int32 = 0
    public private(set) var outcomes: [StoreOutcome] = []
    private var lastFailureStatus: DIMSEStatus?
    private var unsuccessful = false

    // The run's work: one item per association plan, each file `repeatCount` times.
    private var files: [OutgoingFile] = []
    private var plans: [AssociationPlan] = []
    private var work: [(plan: Int, files: [Int])] = []
    private var opened = false
    private var retired = false
    private var takenPlan: Int?
    public let journal = MemoryJournal()

    public init(settings: StoreSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.invention = settings.invention
    }

    public func run(_ files: [OutgoingFile]) async {
        self.files = files
        plans = ContextPlanner.plan(files, options: settings.proposal)
        if plans.count > 1 {
            logger.info(
                "\(files.count) files need \(plans.count) associations (more than \(ContextPlanner.maxContexts) presentation contexts)"
            )
        }
        let repeats = max(1, settings.repeatCount)
        work = plans.indices.reversed().map { p in
            (p, plans[p].files.flatMap { Array(repeating: $0, count: repeats) })
        }
        settings.share?.setUp { work }
        let configuration = SendStateMachine.Configuration(
            policy: settings.retryPolicy, window: settings.asyncWindow,
            close: settings.abortInsteadOfRelease ? .abort : .release)
        _ = await SendLoop.run(self, configuration: configuration)
        if exitCode == 0 && unsuccessful && settings.retryPolicy.haltWithoutStatus {
            exitCode = lastFailureStatus.map { Int32($0.code >> 8) } ?? 10
        }
    }

    // MARK: SendLoopDelegate

    public var stopRequested: Bool { settings.stop?.isSet ?? false }

    public func takeWork(preferring plan: Int?) async -> (plan: Int, files: [Int])? {
        if retired { return nil }
        guard let share = settings.share else { return work.popLast() }
        let taken = share.take(preferring: plan)
        takenPlan = taken?.plan
        return taken
    }

    public func putBack(plan: Int, files: [Int]) async { settings.share?.putBack(plan: plan, files: files) }

    public func open(plan: Int) async throws -> (association: Association, id: Int) {
        var parameters = settings.association
        parameters.presentationContexts = plans[plan].contexts
        if let roles = settings.proposal.profile?.roles, !roles.isEmpty { parameters.roleSelections = roles }
        logger.info("Requesting Association")
        let a = try await Association.open(
            host: settings.host, port: settings.port, parameters: parameters,
            timeouts: settings.timeouts, tls: settings.tls, logger: logger)
        logger.info("Association Accepted (Max Send PDV: \(a.sendPDULength - 6))")
        opened = true
        if a.acceptedContexts.isEmpty {
            await a.abort()
            throw AssociationError.noAcceptedContext
        }
        return (a, plan + 1)
    }

    public func begin(
        _ file: Int, upcoming: ArraySlice<Int>, on association: Association
    ) async -> (
        outcome: StoreOutcome, messageID: UInt16?
    ) {
        await sender.begin(files[file], on: association, invention: &invention)
    }

    public func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome {
        sender.complete(outcome, response: response)
    }

    public func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome { sender.failed(outcome, error) }

    /// storescu's sender: DCMTK's transcoding order (uncompressed first where the file's own
    /// syntax was refused), its priority and move originator.
    private var sender: FileSender {
        let preferred = settings.proposal.profile == nil ? settings.proposal.preference.preferred : nil
        var sender = FileSender(
            conversion: settings.conversion, priority: settings.priority, policy: .dcmtk(preferred: preferred),
            logger: logger)
        sender.moveOriginator = settings.moveOriginator
        return sender
    }

    public func recorded(_ file: Int, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition) async {
        record(outcome)
    }

    public func failUnsent(_ unsent: [Int], _ error: ServiceError) {
        if settings.optionalAssociation, !opened, let share = settings.share, let plan = takenPlan {
            // The destination did not take one more association: the others send these.
            logger.info("An extra association was not accepted (\(error)); its files go to the others")
            share.putBack(plan: plan, files: unsent)
            retired = true
            return
        }
        logger.error("Association Request Failed: \(error)")
        exitCode = 1
        // The destination is unreachable for this run: what the shared queue still holds fails
        // with these now, not batch by batch after one more connect timeout each.
        let rest = settings.optionalAssociation ? [] : settings.share?.drain() ?? []
        for i in unsent + rest {
            record(StoreOutcome(path: files[i].path, sopInstanceUID: files[i].sopInstanceUID, error: error))
        }
    }

    public func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle { .wait }

    public func close(_ association: Association, _ mode: SendStateMachine.Close) async {
        guard association.isUsable else {
            if !work.isEmpty { logger.warning("association ended; continuing on a new association") }
            await association.abort()
            return
        }
        switch mode {
        case .abort:
            logger.info("Aborting Association")
            await association.abort()
        case .release:
            logger.info("Releasing Association")
            do { try await association.release() } catch { logger.error("Association Release Failed: \(error)") }
        }
    }

    public func journalFailed(_ error: Error) { logger.error("\(error)") }

    private func record(_ outcome: StoreOutcome) {
        outcomes.append(outcome)
        settings.onOutcome?(outcome)
        if !outcome.succeeded {
            unsuccessful = true
            if let s = outcome.status { lastFailureStatus = s }
        }
    }
}

/// A journal in memory (`ferry storescu` keeps no manifest): it counts attempts.
public final class MemoryJournal: SendJournal {
    private let attempts = Mutex<[Int: Int]>([:])

    public init() {}

    public func commit(_ entries: [JournalEntry], association: Int) async throws -> [Int: Int] {
        attempts.withLock { counts in
            var marked: [Int: Int] = [:]
            for entry in entries {
                switch entry {
                case .mark(let file):
                    counts[file, default: 0] += 1
                    marked[file] = counts[file]
                case .unmark(let file):
                    counts[file] = max(0, (counts[file] ?? 0) - 1)
                case .record:
                    break
                }
            }
            return marked
        }
    }
}
