import FerryDICOM
import FerryNetwork
import Logging
import NIOCore
import NIOSSL

/// Settings of a storage run (what DCMTK storescu's options describe).
public struct StoreSettings: Sendable {
    public var host: String
    public var port: Int
    public var association = AssociationParameters()
    public var timeouts = Timeouts()
    public var tls: NIOSSLContext?
    public var proposal = ProposalOptions()
    /// DCMTK's rules: every file once, and a store without a status stops the run (with
    /// `.dcmtk(halt: false)`, --no-halt, the run goes on, on a new association if the current
    /// one died).
    public var retryPolicy = RetryPolicy.dcmtk(halt: true)
    /// Send each file this many times (DCMTK --repeat).
    public var repeatCount = 1
    /// End associations with A-ABORT instead of A-RELEASE (DCMTK --abort).
    public var abortInsteadOfRelease = false
    public var conversion = DataSetConversion()
    public var invention: UIDInvention?
    public var priority: Priority = .medium

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
    /// Why no status was obtained (no context, association failure, unreadable file ...).
    public var error: String?
    public var sentAs: TransferSyntax?
    public var bytes: Int = 0
    /// Why there is no status: no context could carry the file, the file could not be read,
    /// or the association failed mid-store (outcome unknown: the peer may have stored it).
    public var failure: Failure?

    public enum Failure: Sendable { case noContext, file, association }

    public var succeeded: Bool { status?.isSuccessOrWarning ?? false }

    public init(
        path: String, sopInstanceUID: String, status: DIMSEStatus? = nil, error: String? = nil, failure: Failure? = nil
    ) {
        self.path = path
        self.sopInstanceUID = sopInstanceUID
        self.status = status
        self.error = error
        self.failure = failure
    }
}

/// Sends files with C-STORE over as many associations as the plan needs (DCMTK storescu's
/// job, with its exit-code convention), reporting every file's outcome.
public final class StoreSCU {
    public let settings: StoreSettings
    let logger: Logger
    private var invention: UIDInvention?

    /// DCMTK storescu's exit codes (3.6.7): 0 success; 1 no association; 10 a store failed
    /// without a status (network error, no presentation context); status >> 8 for a failure status.
    public private(set) var exitCode: Int32 = 0
    public private(set) var outcomes: [StoreOutcome] = []
    private var lastFailureStatus: DIMSEStatus?
    private var unsuccessful = false

    public init(settings: StoreSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.invention = settings.invention
    }

    public func run(_ files: [OutgoingFile], report: (StoreOutcome) -> Void = { _ in }) async {
        let plans = ContextPlanner.plan(files, options: settings.proposal)
        if plans.count > 1 {
            logger.info(
                "\(files.count) files need \(plans.count) associations (more than \(ContextPlanner.maxContexts) presentation contexts)"
            )
        }
        var halted = false
        for plan in plans where !halted {
            var pending = plan.files[...]
            var repeatsLeft = settings.repeatCount
            while !pending.isEmpty && !halted {
                let association: Association
                do {
                    association = try await open(plan)
                } catch {
                    logger.error("Association Request Failed: \(error)")
                    for i in pending {
                        record(
                            StoreOutcome(
                                path: files[i].path, sopInstanceUID: files[i].sopInstanceUID, error: "\(error)"), report
                        )
                    }
                    exitCode = 1
                    halted = settings.retryPolicy.haltWithoutStatus
                    break
                }
                // Send until done, or until the association dies (then a new one, with --no-halt).
                while let index = pending.first, !halted {
                    let outcome = await send(files[index], on: association)
                    record(outcome, report)
                    repeatsLeft -= 1
                    if repeatsLeft <= 0 {
                        pending = pending.dropFirst()
                        repeatsLeft = settings.repeatCount
                    }
                    if settings.retryPolicy.verdict(for: outcome, attempts: 1) == .halt { halted = true }
                    if !association.isUsable { break }
                }
                if association.isUsable {
                    if settings.abortInsteadOfRelease || halted {
                        logger.info("Aborting Association")
                        await association.abort()
                    } else {
                        logger.info("Releasing Association")
                        do { try await association.release() } catch {
                            logger.error("Association Release Failed: \(error)")
                        }
                    }
                } else if !pending.isEmpty && !halted {
                    logger.warning("association ended; continuing with \(pending.count) files on a new association")
                }
            }
        }
        if exitCode == 0 && unsuccessful && settings.retryPolicy.haltWithoutStatus {
            exitCode = lastFailureStatus.map { Int32($0.code >> 8) } ?? 10
        }
    }

    private func record(_ outcome: StoreOutcome, _ report: (StoreOutcome) -> Void) {
        outcomes.append(outcome)
        if !outcome.succeeded {
            unsuccessful = true
            if let s = outcome.status { lastFailureStatus = s }
        }
        report(outcome)
    }

    private func open(_ plan: AssociationPlan) async throws -> Association {
        var parameters = settings.association
        parameters.presentationContexts = plan.contexts
        if let roles = settings.proposal.profile?.roles, !roles.isEmpty { parameters.roleSelections = roles }
        logger.info("Requesting Association")
        let a = try await Association.open(
            host: settings.host, port: settings.port, parameters: parameters,
            timeouts: settings.timeouts, tls: settings.tls, logger: logger)
        logger.info("Association Accepted (Max Send PDV: \(a.sendPDULength - 6))")
        if a.acceptedContexts.isEmpty {
            await a.abort()
            throw AssociationError.noAcceptedContext
        }
        return a
    }

    private func send(_ file: OutgoingFile, on association: Association) async -> StoreOutcome {
        let preferred = settings.proposal.profile == nil ? settings.proposal.preference.preferred : nil
        let sender = FileSender(
            conversion: settings.conversion, priority: settings.priority, policy: .dcmtk(preferred: preferred),
            logger: logger)
        return await sender.send(file, on: association, invention: &invention)
    }
}
