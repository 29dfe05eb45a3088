import FerryDICOM
import FerryNetwork
import FerryServices
import GRDB
import Logging
import NIOSSL
import Synchronization

/// How a run ended (and the process's exit code).
public enum RunOutcome: String, Sendable {
    case complete  // 0: everything sendable was sent
    case someFailed  // 1
    case paused  // 3: destination unreachable or out of resources; the rest stays planned
    case interrupted  // 130

    public var exitCode: Int32 {
        switch self {
        case .complete: 0
        case .someFailed: 1
        case .paused: 3
        case .interrupted: 130
        }
    }
}

/// Set from a signal handler: stop taking new files, finish what is in flight.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func stop() { flag.store(true, ordering: .relaxed) }
    public var isSet: Bool { flag.load(ordering: .relaxed) }
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
    private let state = Mutex(SharedState())

    struct SharedState {
        var activeWorkers = 0
        var consecutiveOutOfResources = 0
        var paused: String?
        var nextAssociationID = 1
    }

    public init(job: Job, manifest: Manifest, logger: Logger, stop: StopFlag, progress: Progress) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
        self.stop = stop
        self.progress = progress
    }

    public func run() async throws -> RunOutcome {
        let started = now()
        let initial = RunRecord(
            startedAt: started,
            settings:
                "associations=\(job.transfer.associations) max_pdu=\(job.transfer.maxPDU) proposal=\(job.transfer.proposal)"
        )
        var runRecord = try await manifest.db.write { db in
            var r = initial
            try r.insert(db)
            // Files that were in flight when a run died: their outcome is unknown, send again.
            try db.execute(
                sql:
                    "UPDATE instance SET state = 'planned', error = 'resent: the previous run ended during its store' WHERE state = 'sending'"
            )
            return r
        }
        // A stored probe of this destination: files it showed cannot be sent fail now, with
        // the probe's reason, instead of costing associations.
        let probe = try Prober.stored(manifest, for: job)
        try await manifest.db.write { db in
            // Failures from an earlier probe are judged again against the current one.
            try db.execute(
                sql:
                    "UPDATE instance SET state = 'planned', error = NULL WHERE state = 'failed' AND error LIKE 'probe of %'"
            )
        }
        if !probe.isEmpty {
            try await manifest.db.write { db in
                let planned = try InstanceRecord.filter(
                    InstanceRecord.CodingKeys.state == InstanceState.planned.rawValue
                ).fetchAll(db)
                for var r in planned {
                    guard let sop = r.sopClassUID, let ts = r.transferSyntaxUID,
                        case .impossible(let reason) = PlanReport.route(sop: sop, ts: ts, probe: probe, job: job)
                    else { continue }
                    r.state = .failed
                    r.error = "probe of \(job.destinationDescription): cannot be sent: \(reason)"
                    r.updatedAt = now()
                    try r.update(db)
                }
            }
        }
        let rows = try await manifest.db.read { db in
            try InstanceRecord.filter(InstanceRecord.CodingKeys.state == InstanceState.planned.rawValue)
                .order(sql: "study_instance_uid, series_instance_uid, instance_number, path").fetchAll(db)
        }
        let sendable = rows.compactMap { r in r.outgoing.map { (id: r.id ?? 0, file: $0, study: r.studyInstanceUID) } }
        let files = sendable.map { ($0.id, $0.file) }
        let plans = ContextPlanner.plan(files.map(\.1), options: job.proposalOptions)
        // Queue studies per plan, in order: a study's files stay together on one association.
        let studyQueues = plans.map { plan in Self.consecutiveRuns(plan.files) { sendable[$0].study } }
        let queue = WorkQueue(studyQueues)
        let connection = try job.connection()
        let tls = try connection.tls.map { try $0.clientContext() }
        progress.begin(files: files.count, bytes: files.reduce(0) { $0 + $1.1.fileSize })

        let workers = min(job.transfer.associations, max(1, files.count))
        await withTaskGroup(of: Void.self) { group in
            for w in 0..<workers {
                group.addTask { [self] in
                    await worker(
                        w, queue: queue, files: files, plans: plans, parameters: connection.parameters,
                        timeouts: connection.timeouts, tls: tls)
                }
            }
        }
        progress.finish()

        let counts = try manifest.counts()
        runRecord.endedAt = now()
        runRecord.done = (counts[.done] ?? 0) + (counts[.doneWarning] ?? 0)
        runRecord.failed = counts[.failed] ?? 0
        let pausedReason = state.withLock { $0.paused }
        let outcome: RunOutcome
        if stop.isSet {
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
        runRecord.outcome = outcome.rawValue
        let final = runRecord
        try await manifest.db.write { db in try final.update(db) }
        return outcome
    }

    // MARK: Workers

    private func worker(
        _ index: Int, queue: WorkQueue, files: [(Int64, OutgoingFile)], plans: [AssociationPlan],
        parameters: AssociationParameters, timeouts: Timeouts, tls: NIOSSLContext?
    ) async {
        var conversion = DataSetConversion()
        conversion.deflateLevel = Int32(job.transfer.transcoding.deflateLevel)
        let sender = FileSender(conversion: conversion, policy: job.transcodingPolicy, logger: logger)
        let pool = PreparationPool.shared
        var backoff = job.transfer.backoff
        state.withLock { $0.activeWorkers += 1 }
        var retire = false  // a retiring worker has already left the count
        defer { if !retire { state.withLock { $0.activeWorkers -= 1 } } }
        // The open association and the plan it was negotiated for: it carries study after
        // study of that plan, so small studies do not each pay for an association.
        var open: (plan: Int, association: FerryNetwork.Association, id: Int)?
        func close() async {
            guard let o = open else { return }
            if o.association.isUsable { try? await o.association.release() } else { await o.association.abort() }
            open = nil
        }
        var running: Bool { !stop.isSet && state.withLock { $0.paused == nil } }
        while running {
            guard let (planIndex, study) = await queue.take(preferring: open?.plan) else { break }
            if let o = open, o.plan != planIndex { await close() }
            var pending = study[...]
            var connectFailures = 0
            while !pending.isEmpty, running {
                if open == nil {
                    var p = parameters
                    p.presentationContexts = plans[planIndex].contexts
                    do {
                        let association = try await FerryNetwork.Association.open(
                            host: job.destination.host, port: job.destination.port, parameters: p,
                            timeouts: timeouts, tls: tls, logger: logger)
                        let id = state.withLock { s -> Int in
                            defer { s.nextAssociationID += 1 }; return s.nextAssociationID
                        }
                        open = (planIndex, association, id)
                        connectFailures = 0
                    } catch {
                        connectFailures += 1
                        logger.warning("association \(index): cannot open: \(error)")
                        if connectFailures >= job.transfer.maxAttempts {
                            state.withLock { $0.paused = "\(error)" }
                            break
                        }
                        try? await Task.sleep(for: .seconds(backoff * Double(connectFailures)))
                        continue
                    }
                }
                guard let (_, association, associationID) = open else { break }
                // Send the study's files in order; on an association failure, open a new one.
                // While file i travels, one transaction commits file i-1's outcome (its
                // C-STORE-RSP has been read) and marks file i+1 `sending` (its C-STORE-RQ is not
                // written before that commit): the checkpoint costs no wall time, and a kill
                // re-sends at most the rows it leaves `sending`.
                var unrecorded: [(Int64, StoreOutcome, Decision)] = []
                var marked: (id: Int64, attempts: Int)?  // the next file, already `sending`
                var newAssociation = false
                // The first manifest write that failed: the run stops (paused) instead of going on
                // with files it cannot account for.
                var manifestError: Error?
                // Files prepared ahead on the pool (transcoding) while earlier ones travel.
                var ahead: [Int64: Task<PreparedFile, Never>] = [:]
                let accepted = association.acceptedContexts
                while let i = pending.first, running, manifestError == nil {
                    let (rowID, file) = files[i]
                    for j in pending.prefix(pool.depth + 1)
                    where ahead[files[j].0] == nil && sender.needsEncoding(files[j].1, accepted: accepted) {
                        let next = files[j].1
                        ahead[files[j].0] = Task { await pool.prepare(next, with: sender, accepted: accepted) }
                    }
                    let attempts: Int
                    if let m = marked, m.id == rowID {
                        attempts = m.attempts
                    } else {
                        do {
                            attempts = try checkpoint(
                                recording: unrecorded, sending: rowID, unmarking: marked?.id, association: associationID
                            )
                        } catch {
                            manifestError = error
                            break
                        }
                        unrecorded = []
                    }
                    marked = nil
                    let previous = unrecorded
                    unrecorded = []
                    let nextID = pending.dropFirst().first.map { files[$0].0 }
                    async let checkpointed = checkpointConcurrently(
                        recording: previous, sending: nextID, association: associationID)
                    let prepared: PreparedFile
                    if let task = ahead.removeValue(forKey: rowID) {
                        prepared = await task.value
                    } else {
                        prepared = await pool.prepare(file, with: sender, accepted: accepted)
                    }
                    let outcome = await sender.send(prepared, on: association)
                    do {
                        let nextAttempts = try await checkpointed
                        if let nextID { marked = (nextID, nextAttempts) }
                    } catch {
                        unrecorded = previous
                        manifestError = error
                    }
                    let decision = decide(outcome, attempts: attempts)
                    unrecorded.append((rowID, outcome, decision))
                    progress.fileFinished(bytes: file.fileSize, failed: decision.state == .failed)
                    switch decision.next {
                    case .nextFile:
                        pending = pending.dropFirst()
                        state.withLock { $0.consecutiveOutOfResources = 0 }
                        backoff = job.transfer.backoff
                    case .retryLater:
                        // Out of resources: back off (with jitter), then try again.
                        let stopNow = state.withLock { s -> Bool in
                            s.consecutiveOutOfResources += 1
                            if attempts >= job.transfer.maxAttempts
                                || s.consecutiveOutOfResources >= job.transfer.maxAttempts
                                    * max(1, job.transfer.associations)
                            {
                                s.paused =
                                    "the destination keeps answering out of resources (\(outcome.status.map { "\($0)" } ?? ""))"
                                return true
                            }
                            return false
                        }
                        if stopNow { break }
                        // Fewer associations: this one leaves the pool while others remain.
                        retire = state.withLock { s in
                            guard s.activeWorkers > 1 else { return false }
                            s.activeWorkers -= 1
                            return true
                        }
                        if retire {
                            logger.warning(
                                "association \(index): destination out of resources; continuing with fewer associations"
                            )
                            break
                        }
                        try? await Task.sleep(for: .seconds(backoff * Double.random(in: 0.5...1.5)))
                        backoff = min(backoff * 2, 60)
                    case .retryOnNewAssociation:
                        newAssociation = true
                    }
                    if newAssociation || retire || !association.isUsable { break }
                }
                if !unrecorded.isEmpty || marked != nil {
                    do {
                        try checkpoint(
                            recording: unrecorded, sending: nil, unmarking: marked?.id, association: associationID)
                    } catch {
                        manifestError = manifestError ?? error
                    }
                }
                if let error = manifestError {
                    logger.error("the manifest cannot be written (\(error)); stopping")
                    state.withLock { $0.paused = $0.paused ?? "the manifest cannot be written: \(error)" }
                }
                if newAssociation || retire || !association.isUsable { await close() }
                if retire { break }
            }
            if !pending.isEmpty {
                // Not sent because the run stops or this association retires: the files go
                // back to the queue (and stay planned in the manifest).
                await queue.putBack(planIndex, Array(pending))
                if retire || !running { break }
            }
        }
        await close()
    }

    /// `indices` cut where `key` changes: the files of one study, in order.
    static func consecutiveRuns(_ indices: [Int], key: (Int) -> String?) -> [[Int]] {
        var runs: [[Int]] = []
        for i in indices {
            if let last = runs.last?.last, key(last) == key(i) {
                runs[runs.count - 1].append(i)
            } else {
                runs.append([i])
            }
        }
        return runs
    }

    struct Decision {
        enum Next { case nextFile, retryLater, retryOnNewAssociation }
        var state: InstanceState
        var next: Next
    }

    /// The pipeline's retry policy's verdict, as the file's next state. Out of resources leaves
    /// the file planned (the run pauses once the attempts are spent, see the worker).
    func decide(_ o: StoreOutcome, attempts: Int) -> Decision {
        switch RetryPolicy.pipeline(maxAttempts: job.transfer.maxAttempts).verdict(for: o, attempts: attempts) {
        case .stored(let warning): return Decision(state: warning ? .doneWarning : .done, next: .nextFile)
        case .failed, .halt: return Decision(state: .failed, next: .nextFile)
        case .retryOnNewAssociation: return Decision(state: .planned, next: .retryOnNewAssociation)
        case .backOff: return Decision(state: .planned, next: .retryLater)
        }
    }

    /// One transaction: the outcomes of files whose C-STORE-RSP was read, the file to send
    /// next marked `sending` with one more attempt (before its C-STORE-RQ), and a file marked
    /// ahead but not sent put back to `planned`. Returns the next file's attempts.
    @discardableResult
    private func checkpoint(
        recording outcomes: [(Int64, StoreOutcome, Decision)], sending id: Int64?, unmarking: Int64? = nil,
        association: Int
    ) throws -> Int {
        try manifest.db.write { db in try Self.checkpoint(db, outcomes, id, unmarking, association) }
    }

    /// The same transaction on the manifest's writer thread, leaving this task free to send.
    private func checkpointConcurrently(
        recording outcomes: [(Int64, StoreOutcome, Decision)], sending id: Int64?,
        association: Int
    ) async throws -> Int {
        if outcomes.isEmpty && id == nil { return 0 }
        return try await manifest.db.write { db in try Self.checkpoint(db, outcomes, id, nil, association) }
    }

    private static func checkpoint(
        _ db: Database, _ outcomes: [(Int64, StoreOutcome, Decision)], _ id: Int64?, _ unmarking: Int64?,
        _ association: Int
    ) throws -> Int {
        for (doneID, outcome, decision) in outcomes {
            try db.cachedStatement(
                sql: """
                    UPDATE instance SET state = ?, status_code = ?, status_name = ?, error = ?, sent_transfer_syntax_uid = ?,
                    bytes_sent = ?, sent_sop_instance_uid = CASE WHEN sop_instance_uid = ? THEN NULL ELSE ? END, updated_at = ? WHERE id = ?
                    """
            ).execute(arguments: [
                decision.state.rawValue, outcome.status.map { Int($0.code) }, outcome.status?.name,
                outcome.errorComment ?? outcome.error, outcome.sentAs?.uid, outcome.bytes,
                outcome.sopInstanceUID, outcome.sopInstanceUID, now(), doneID,
            ])
        }
        if let unmarking {
            try db.cachedStatement(
                sql: "UPDATE instance SET state = 'planned', attempts = attempts - 1 WHERE id = ? AND state = 'sending'"
            )
            .execute(arguments: [unmarking])
        }
        guard let id else { return 0 }
        return try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    UPDATE instance SET state = 'sending', attempts = attempts + 1, association_id = ?, updated_at = ? WHERE id = ?
                    RETURNING attempts
                    """), arguments: [association, now(), id]) ?? 1
    }
}

/// The studies still to send, per association plan. Each plan's studies are kept in reverse
/// so taking the next one is a popLast, not a shift of millions of entries.
actor WorkQueue {
    private var plans: [[[Int]]]
    init(_ plans: [[[Int]]]) { self.plans = plans.map { $0.reversed() } }

    /// The next study: from `preferred` (the plan of the caller's open association) while it
    /// has one, else from the first plan that has one.
    func take(preferring preferred: Int?) -> (Int, [Int])? {
        if let p = preferred, plans.indices.contains(p), let study = plans[p].popLast() {
            return (p, study)
        }
        for p in plans.indices {
            if let study = plans[p].popLast() { return (p, study) }
        }
        return nil
    }

    /// Files taken but not sent go back to the front of their plan.
    func putBack(_ plan: Int, _ files: [Int]) {
        plans[plan].append(files)
    }
}
