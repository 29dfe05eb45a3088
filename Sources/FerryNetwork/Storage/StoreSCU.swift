import FerryDICOM
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
    /// Stop at the first unsuccessful store (DCMTK's default); with false, go on, on a new
    /// association if the current one died.
    public var haltOnFailure = true
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

    public var succeeded: Bool { status?.isSuccessOrWarning ?? false }
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
            logger.info("\(files.count) files need \(plans.count) associations (more than \(ContextPlanner.maxContexts) presentation contexts)")
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
                    for i in pending { record(StoreOutcome(path: files[i].path, sopInstanceUID: files[i].sopInstanceUID, error: "\(error)"), report) }
                    exitCode = 1
                    halted = settings.haltOnFailure
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
                    if !outcome.succeeded && outcome.status == nil && settings.haltOnFailure { halted = true }
                    if !association.isUsable { break }
                }
                if association.isUsable {
                    if settings.abortInsteadOfRelease || halted {
                        logger.info("Aborting Association")
                        await association.abort()
                    } else {
                        logger.info("Releasing Association")
                        do { try await association.release() } catch { logger.error("Association Release Failed: \(error)") }
                    }
                } else if !pending.isEmpty && !halted {
                    logger.warning("association ended; continuing with \(pending.count) files on a new association")
                }
            }
        }
        if exitCode == 0 && unsuccessful && settings.haltOnFailure {
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
        let a = try await Association.open(host: settings.host, port: settings.port, parameters: parameters,
                                           timeouts: settings.timeouts, tls: settings.tls, logger: logger)
        logger.info("Association Accepted (Max Send PDV: \(a.sendPDULength - 6))")
        if a.acceptedContexts.isEmpty {
            await a.abort()
            throw AssociationError.noAcceptedContext
        }
        return a
    }

    private func send(_ file: OutgoingFile, on association: Association) async -> StoreOutcome {
        var outcome = StoreOutcome(path: file.path, sopInstanceUID: file.sopInstanceUID)
        let rewrite = settings.invention != nil || settings.conversion.disableNewVRs
        let preferred = settings.proposal.profile == nil ? settings.proposal.preference.preferred : nil
        // An odd-length data set cannot travel as it is (PDVs are even): a deflated stream gets
        // the NUL pad PS3.5 A.5 prescribes, anything else is re-encoded with even values.
        let odd = file.dataSetLength % 2 == 1
        let route = Route.choose(for: file, accepted: association.acceptedContexts, preferred: preferred,
                                 mustRewrite: rewrite || (odd && !file.transferSyntax.isDeflated))
        logger.info("Sending file: \(file.path)")
        do {
            let response: CommandSet
            switch route {
            case .impossible(let reason):
                logger.error("No presentation context for: \(file.path): \(reason)")
                outcome.error = reason
                return outcome
            case .asIs(let contextID, let ts):
                var source = try FileRangeSource(path: file.path, offset: file.dataSetOffset, length: file.dataSetLength,
                                                 padToEven: true)
                outcome.sentAs = ts
                outcome.bytes = source.length
                response = try await association.store(sopClass: file.sopClassUID, sopInstance: file.sopInstanceUID,
                                                       contextID: contextID, data: &source, priority: settings.priority)
            case .convert(let contextID, let ts):
                var dicom = try Part10Reader.read(path: file.path)
                var instance = file.sopInstanceUID
                if invention != nil { instance = invention?.apply(to: &dicom.dataSet) ?? instance }
                if file.transferSyntax != ts { logger.info("Converting transfer syntax: \(file.transferSyntax.name) -> \(ts.name)") }
                var source = BytesSource(try settings.conversion.encode(dicom.dataSet, as: ts))
                outcome.sentAs = ts
                outcome.bytes = source.length
                outcome.sopInstanceUID = instance
                response = try await association.store(sopClass: file.sopClassUID, sopInstance: instance,
                                                       contextID: contextID, data: &source, priority: settings.priority)
            }
            let status = response.status ?? DIMSEStatus(0xFFFF)
            outcome.status = status
            outcome.errorComment = response.errorComment
            switch status.category {
            case .success: logger.info("Received Store Response (Success)")
            case .warning: logger.warning("Store Response: \(status)\(response.errorComment.map { " (\($0))" } ?? "") for \(file.path)")
            default: logger.error("Store Failed, file: \(file.path): \(status)\(response.errorComment.map { " (\($0))" } ?? "")")
            }
        } catch {
            logger.error("Store Failed, file: \(file.path): \(error)")
            outcome.error = "\(error)"
        }
        return outcome
    }
}
