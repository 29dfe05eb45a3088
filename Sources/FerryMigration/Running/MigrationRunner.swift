import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import GRDB
import Logging
import NIOSSL
import Synchronization

/// How a run ended, stored in the run's record.
public enum RunOutcome: String, Codable, Sendable, DatabaseValueConvertible {
    /// Everything sendable was sent.
    case complete
    case someFailed
    /// The destination is unreachable or out of resources; the rest stays planned.
    case paused
    case interrupted
    /// Its time window closed (or --until came); the rest stays planned.
    case windowClosed

    public var exitStatus: ExitStatus {
        switch self {
        case .complete: .success
        case .someFailed: .someFailed
        case .paused: .destinationUnavailable
        case .interrupted: .interrupted
        case .windowClosed: .windowClosed
        }
    }
}

/// Sends the manifest's planned instances through a pool of associations, checkpointing every
/// file: `sending` is committed before its C-STORE-RQ, the terminal state only after its
/// C-STORE-RSP. A killed run leaves `sending` rows, which the next run retries.
public final class MigrationRunner: Sendable {
    public let job: Job
    public let manifest: Manifest
    let logger: Logger
    let stop: StopFlag
    let progress: Progress
    /// What the associations share about the destination: how many send, whether it is paused.
    let gate: Mutex<DestinationGate>
    /// Decodes side by side, a suspect's alone.
    let decodeGate = DecodeGate()
    private let associationIDs = Mutex(1)
    /// `transfer.max_rate`, shared by the pool's associations.
    let pacer: Pacer?

    /// When the run must stop taking files (the end of its window, or --until).
    let stopAt: Date?
    private let windowClosed = StopFlag()
    /// Test faults (`ferry run --fault-abort-decoding`).
    let faults: FaultInjection

    public init(
        job: Job, manifest: Manifest, logger: Logger, stop: StopFlag, progress: Progress, stopAt: Date? = nil,
        faults: FaultInjection = FaultInjection()
    ) {
        self.stopAt = stopAt
        self.faults = faults
        self.job = job
        self.manifest = manifest
        self.logger = logger
        self.stop = stop
        self.progress = progress
        self.gate = Mutex(
            DestinationGate(maxAttempts: job.transfer.maxAttempts, associations: job.transfer.poolSize))
        self.pacer = job.transfer.maxRate.map { Pacer(bytesPerSecond: $0 * 1_000_000) }
    }

    public func run() async throws -> RunOutcome {
        let checking = job.transfer.checkBeforeResend
        var runRecord = try await manifest.beginRun(
            maxAttempts: job.transfer.maxAttempts,
            settings:
                "associations=\(job.transfer.poolSize) max_pdu=\(job.transfer.maxPDU) proposal=\(job.transfer.proposal)",
            checkBeforeResend: checking)
        // A stored probe of this destination: files it showed cannot be sent fail now, with
        // the probe's reason, instead of costing associations.
        let probe = try Prober.stored(manifest, for: job)
        if !probe.isEmpty {
            let job = self.job
            try await manifest.failPlanned(destination: job.destinationDescription) { r in
                guard let file = r.outgoing,
                    case .impossible(let reason) = PlanReport.route(for: file, probe: probe, job: job)
                else { return nil }
                return reason
            }
        }
        // At the end of its window the run stops as on SIGINT: the stores in flight finish,
        // the rest stays planned.
        let closing = stopAt.map { end in
            Task { [stop, windowClosed] in
                let seconds = end.timeIntervalSinceNow
                if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
                windowClosed.stop()
                stop.stop()
            }
        }
        defer { closing?.cancel() }
        // Send; with check_before_resend, the files whose store had an unknown outcome are
        // looked for at the destination before each pass, and the pass sends only those it
        // lacks (each pass spends attempts, so this ends).
        while true {
            if checking, try await !checkBeforeResend() { break }
            try await sendPass()
            let unresolved =
                checking
                ? try await BlockingPool.shared.run { [manifest] in try manifest.awaitingResendCheck().count } : 0
            if unresolved == 0 || stop.isSet || gate.withLock({ $0.paused }) != nil { break }
        }

        let counts = try await BlockingPool.shared.run { [manifest] in try manifest.counts() }

        runRecord.endedAt = now()
        runRecord.done = (counts[.done] ?? 0) + (counts[.doneWarning] ?? 0)
        runRecord.failed = counts[.failed] ?? 0
        let pausedReason = gate.withLock { $0.paused }
        let outcome: RunOutcome
        if windowClosed.isSet {
            outcome = .windowClosed
        } else if stop.isSet {
            outcome = .interrupted
        } else if pausedReason != nil || (counts[.planned] ?? 0) > 0 {
            outcome = .paused
        } else if (counts[.failed] ?? 0) + (counts[.conflict] ?? 0) > 0 {
            outcome = .someFailed
        } else {
            outcome = .complete
        }
        if let reason = pausedReason {
            logger.error("destination paused: \(reason); \(counts[.planned] ?? 0) files stay planned for the next run")
        }
        runRecord.outcome = outcome
        try await manifest.endRun(runRecord)
        return outcome
    }

    /// One pass over the planned files through the pool of associations, read from the
    /// manifest a page at a time.
    private func sendPass() async throws {
        let pass = try await manifest.beginPass(
            order: job.transfer.order, firstPatients: job.transfer.firstPatients,
            firstAccessions: job.transfer.firstAccessions)
        // The associations' plans from the kinds of file the pass holds (one stand-in each).
        let kinds = pass.kinds.compactMap { kind in
            TransferSyntax.lookup(kind.transferSyntax).map {
                OutgoingFile(
                    path: "", sopClassUID: kind.sopClass, sopInstanceUID: "", transferSyntax: $0, dataSetOffset: 0,
                    fileSize: 0, pixelData: nil, mustRewrite: false)
            }
        }
        let plans = ContextPlanner.plan(kinds, options: job.proposalOptions)
        let queue = SendQueue(
            manifest: manifest, plans: plans, kinds: kinds,
            spread: job.transfer.studyAffinity == .spread ? job.transfer.poolSize : nil
        ) { [self] error in
            gate.withLock {
                $0.pause(ServiceError(.journal, "the manifest cannot be read: \(error)", underlying: error))
            }
        }
        let connection = try job.connection()
        let tls = try connection.tls.map { try $0.client() }
        progress.begin(files: pass.files, bytes: pass.bytes)

        let workers = min(job.transfer.poolSize, max(1, pass.files))
        let journal = ManifestJournal(manifest: manifest, files: queue.files)
        await withTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask { [self] in
                    let worker = PipelineWorker(
                        index: w, runner: self, queue: queue, plans: plans, parameters: connection.parameters,
                        timeouts: connection.timeouts, tls: tls, journal: journal, suspects: pass.suspects > 0)
                    await worker.run()
                }
            }
        }
        progress.finish()
    }

    /// The configuration every association's send state machine gets.
    var sendConfiguration: SendStateMachine.Configuration {
        SendStateMachine.Configuration(
            policy: .pipeline(maxAttempts: job.transfer.maxAttempts, checkBeforeResend: job.transfer.checkBeforeResend),
            window: job.transfer.asyncWindow, backoff: job.transfer.backoff)
    }

    func nextAssociationID() -> Int {
        associationIDs.withLock { n in
            defer { n += 1 }
            return n
        }
    }

    /// The instance state of a disposition of the send state machine. A file to be sent again
    /// stays planned (out of resources, or a retry on a new association).
    static func state(of disposition: SendStateMachine.Disposition) -> InstanceState {
        switch disposition {
        case .stored(let warning): warning ? .doneWarning : .done
        case .failed: .failed
        case .retry, .setAside: .planned
        }
    }
}

/// The send loop's journal in the manifest: file slots are the pass's rows.
struct ManifestJournal: SendJournal {
    let manifest: Manifest
    let files: PassFiles

    func commit(_ entries: [JournalEntry], association: Int) async throws -> [Int: Int] {
        func row(_ slot: Int) -> Int64 { files[slot]?.row ?? 0 }
        let changes: [Manifest.Checkpoint] = entries.map { entry in
            switch entry {
            case .mark(let file): .sending(row(file))
            case .unmark(let file): .unmark(row(file))
            case .record(let file, let outcome, let disposition):
                .outcome(
                    row(file), outcome, MigrationRunner.state(of: disposition), checkFirst: disposition == .setAside)
            }
        }
        let attempts = try await manifest.checkpoint(changes, association: association)
        var byFile: [Int: Int] = [:]
        for case .mark(let file) in entries { byFile[file] = attempts[row(file)] }
        return byFile
    }
}
