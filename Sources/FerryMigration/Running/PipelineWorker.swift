import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging
import NIOSSL

/// One association of `ferry run`'s pool: the delegate of its send loop. Studies come from the
/// shared work queue, outcomes go to the manifest, and files that must be re-encoded are
/// prepared ahead on the preparation pool while earlier ones travel.
final class PipelineWorker: SendLoopDelegate {
    let index: Int
    let runner: MigrationRunner
    let queue: SendQueue
    /// The pass's files in memory (slots are the send loop's files).
    let files: PassFiles
    let plans: [AssociationPlan]
    let parameters: AssociationParameters
    let timeouts: Timeouts
    let tls: TLSClient?
    let journal: ManifestJournal
    /// The pass has files a dead run was decoding: those are decoded alone (see DecodeGate).
    let suspects: Bool
    private let sender: FileSender
    private let pool = PreparationPool.shared
    /// Routes on the open association's accepted contexts (each decided once), and the files
    /// being prepared ahead for them.
    private var routes: [Int: Route] = [:]
    private var ahead: [Int: Task<PreparedFile, Never>] = [:]

    init(
        index: Int, runner: MigrationRunner, queue: SendQueue, plans: [AssociationPlan],
        parameters: AssociationParameters, timeouts: Timeouts, tls: TLSClient?, journal: ManifestJournal,
        suspects: Bool
    ) {
        self.suspects = suspects
        self.index = index
        self.runner = runner
        self.queue = queue
        self.files = queue.files
        self.plans = plans
        self.parameters = parameters
        self.timeouts = timeouts
        self.tls = tls
        self.journal = journal
        sender = runner.job.fileSender(logger: runner.logger)
    }

    var logger: Logger { runner.logger }

    func run() async {
        runner.gate.withLock { $0.join() }
        let ending = await SendLoop.run(self, configuration: runner.sendConfiguration)
        runner.gate.withLock { gate in
            if case .paused(let reason) = ending { gate.pause(reason) }
            // A retired association has already left the count.
            if ending != .retired { gate.leave() }
        }
    }

    var stopRequested: Bool { runner.stop.isSet || runner.gate.withLock { $0.paused != nil } }

    func takeWork(preferring plan: Int?) async -> (plan: Int, files: [Int])? {
        guard let (p, study) = await queue.take(preferring: plan) else { return nil }
        return (p, study)
    }

    /// Not sent because the run stops or this association retires: the files go back to the
    /// queue (and stay planned in the manifest).
    func putBack(plan: Int, files: [Int]) async { await queue.putBack(plan, files) }

    func open(plan: Int) async throws -> (association: Association, id: Int) {
        var p = parameters
        p.presentationContexts = plans[plan].contexts
        // An Asynchronous Operations Window: this many stores before their responses, where
        // the destination grants it (one at a time where it does not).
        let window = runner.job.transfer.asyncWindow
        if window > 1 { p.asyncOperationsWindow = AsyncOperationsWindow(maxInvoked: UInt16(window), maxPerformed: 1) }
        do {
            let association = try await Association.open(
                host: runner.job.destination.host, port: runner.job.destination.port, parameters: p,
                timeouts: timeouts, tls: tls, logger: logger)
            association.pacer = runner.pacer
            return (association, runner.nextAssociationID())
        } catch {
            logger.warning("association \(index): cannot open: \(error)")
            throw error
        }
    }

    func begin(
        _ file: Int, upcoming: ArraySlice<Int>, on association: Association
    ) async -> (
        outcome: StoreOutcome, messageID: UInt16?
    ) {
        let accepted = association.acceptedContexts
        // Each file's route, decided once for this association.
        for f in [file] + upcoming.prefix(pool.depth + 1) where routes[f] == nil {
            guard let entry = files[f] else { continue }
            routes[f] = await sender.routeOffTheLoop(for: entry.file, accepted: accepted)
        }
        func route(_ f: Int) -> Route { routes[f] ?? .impossible("no route") }
        // The files to re-encode ahead (and this one, if not prepared yet), each marked
        // `decoding` by its own task before its decoder starts; one file more than the pool's
        // depth, so the mark's write is hidden (the SV1 benchmark: 1.08 -> 0.97 of the baseline).
        var starting = upcoming.prefix(pool.depth + 1).filter { ahead[$0] == nil && route($0).isConversion }
        if ahead[file] == nil && route(file).isConversion { starting.insert(file, at: 0) }
        for next in starting {
            guard let prepare = tracked(next, route(next)) else { continue }
            ahead[next] = Task { await prepare() }
        }
        let prepared: PreparedFile
        if let task = ahead.removeValue(forKey: file) {
            prepared = await task.value
        } else if let entry = files[file] {
            prepared = await pool.prepare(entry.file, route: route(file), with: sender)
        } else {
            // Slots leave memory only after their outcome is recorded: never reached.
            let lost = ServiceError(.journal, "file \(file) of the pass is not in memory")
            return (StoreOutcome(path: "", sopInstanceUID: "", error: lost), nil)
        }
        routes[file] = nil
        return await sender.begin(prepared, on: association)
    }

    func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome {
        sender.complete(outcome, response: response)
    }

    func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome { sender.failed(outcome, error) }

    /// The preparation of a file to re-encode. The manifest knows first that a decoder is at
    /// work on it (until its outcome is recorded): if a decoder kills the process, the next run
    /// counts it against that file, and fails the file once `max_attempts` runs died on it,
    /// instead of dying again forever.
    private func tracked(_ file: Int, _ route: Route) -> (@Sendable () async -> PreparedFile)? {
        let entry = files[file]
        let (manifest, pool, sender, logger, faults) = (journal.manifest, pool, sender, logger, runner.faults)
        // Without suspects in the run, decodes need no gate.
        let (gate, suspect) = (suspects ? runner.decodeGate : nil, entry?.suspect ?? false)
        guard let f = entry?.file, let row = entry?.row else { return nil }
        return {
            await gate?.enter(alone: suspect)
            do { try await manifest.decoding([row]) } catch {
                logger.error("the manifest cannot be written before decoding \(f.path): \(error)")
            }
            let prepared = await pool.prepare(f, route: route, with: sender, faults: faults)
            if suspect {
                // Decoded alone without harm: cleared at once, so a crash of the next suspect
                // is not counted against this one.
                do { try await manifest.decoded(row) } catch {
                    logger.error("the manifest cannot be written after decoding \(f.path): \(error)")
                }
            }
            await gate?.leave()
            return prepared
        }
    }

    func recorded(_ file: Int, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition) async {
        runner.progress.fileFinished(bytes: files[file]?.file.fileSize ?? 0, failed: disposition == .failed)
        if case .stored = disposition { runner.gate.withLock { $0.stored() } }
        // Its outcome is in the manifest: a later pass reads it again if it must be sent again.
        if disposition != .retry { files.remove(file) }
    }

    func failUnsent(_ files: [Int], _ error: ServiceError) {
        logger.error("association \(index): \(files.count) files not sent: \(error)")
    }

    func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle {
        let status = outcome.status.map { "\($0)" } ?? ""
        let throttle = runner.gate.withLock { $0.outOfResources(attempts: attempts, status: status) }
        if throttle == .retire {
            logger.warning("association \(index): destination out of resources; continuing with fewer associations")
        }
        return throttle
    }

    func close(_ association: Association, _ mode: SendStateMachine.Close) async {
        // Preparations for this association's contexts are of no use to the next one.
        for task in ahead.values { task.cancel() }
        ahead = [:]
        routes = [:]
        if association.isUsable && mode == .release {
            do { try await association.release() } catch {
                logger.warning("association \(index): release failed: \(error)")
            }
        } else {
            await association.abort()
        }
    }

    func journalFailed(_ error: Error) {
        logger.error("the manifest cannot be written (\(error)); stopping")
        runner.gate.withLock {
            $0.pause(
                ServiceError(
                    .journal, "the manifest cannot be written: \(error)", underlying: error))
        }
    }
}
