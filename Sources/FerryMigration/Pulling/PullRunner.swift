import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging

/// The retrieving half of `ferry run` for a pull job: the listed studies retrieved a batch at
/// a time (`max_retrieves` at once, each into a staging folder of its own, checkpointed
/// `retrieving` before and `retrieved` after with its counts), then handed to the file
/// pipeline (planned from the staging folders and sent as any files are); staged files go once
/// their instances are sent. A study from which listed instances did not come is retrieved
/// again, up to the job's `max_attempts`, then reported with how many are missing.
public struct PullRunner: Sendable {
    public let job: Job
    public let manifest: Manifest
    public let logger: Logger
    /// Ferry's receiver for `retrieve: move`, while `serving` runs.
    let receiver: MoveReceiver?
    /// How many retrieves run at once.
    let pace: RetrievePace

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.init(job: job, manifest: manifest, logger: logger, receiver: nil)
    }

    private init(job: Job, manifest: Manifest, logger: Logger, receiver: MoveReceiver?) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
        self.receiver = receiver
        pace = RetrievePace(most: job.source.maxRetrieves)
    }

    /// Runs `body` with what the job's retrieve needs: for `move`, Ferry's receiver listening
    /// (stopped when `body` returns).
    public func serving<T>(_ body: (PullRunner) async throws -> T) async throws -> T {
        switch job.source.retrieve {
        case .get: return try await body(self)
        case .move:
            return try await MoveReceiver.serving(job: job, staging: staging, logger: logger) { receiver in
                try await body(PullRunner(job: job, manifest: manifest, logger: logger, receiver: receiver))
            }
        case .moveDirect: return try await body(self)
        }
    }

    /// Where studies are staged: `source.receiver.staging`, else beside the manifest.
    public var staging: String {
        if let dir = job.source.receiver?.staging { return dir }
        let path = job.manifestPath
        return (path.hasSuffix(".sqlite") ? String(path.dropLast(".sqlite".count)) : path) + "-staging"
    }

    /// Whether an earlier run left staged files (killed between a retrieve and its send).
    public var hasStagedFiles: Bool {
        let walk = FileManager.default.enumerator(atPath: staging)
        while let name = walk?.nextObject() as? String {
            if walk?.fileAttributes?[.type] as? FileAttributeType == .typeRegular, !name.isEmpty { return true }
        }
        return false
    }

    public struct Batch: Sendable {
        /// Studies retrieved (a piece of a study still arriving counts none).
        public var studies = 0
        /// What to plan: the staging folders of the studies retrieved, the files of pieces.
        public var paths: [String] = []
        public var instances = 0
        /// What its staged files hold.
        public var bytes = 0
        /// Studies retrieved with listed instances missing after their last attempt.
        public var incomplete: [(study: String, missing: [String])] = []
    }

    /// Retrieves every study to retrieve, up to `max_retrieves` at once (fewer while the source
    /// pushes back, see `RetrievePace`), a lane taking the next study as soon as it is free
    /// (and staging has room), each study handed to `staged` as it is retrieved; when only
    /// studies waiting for a retry are left, waits for the first. Ends, telling `staged`, when
    /// none is left, on `stop` (the studies under way finish), or on the first error.
    public func retrieveAll(into staged: StagedStudies, stop: StopFlag) async {
        do {
            guard job.source.retrieve != .move || receiver != nil else {
                throw MigrationError.invalidJob("job \(job.name): a pull by C-MOVE retrieves inside serving")
            }
            let manifest = self.manifest
            try await withThrowingTaskGroup(of: Retrieved.self) { group in
                var inFlight: [String: Int] = [:]  // study -> lanes it holds
                var checking = Set<String>()  // move-direct: moved, arrivals being checked
                // Starts studies while lanes are free, staging has room and studies are ready.
                // A study of more instances than one request asks for takes every lane, once
                // the others are free: its requests run side by side.
                func fill() async throws {
                    // move-direct checks in flight count too: no more than the lanes wait.
                    while inFlight.values.reduce(0, +) < pace.lanes, checking.count < pace.lanes, !stop.isSet,
                        !Task.isCancelled
                    {
                        await staged.waitForRoom(maxStaging)
                        let wanted = inFlight.count + checking.count + 1
                        let next = try await BlockingPool.shared.run { try manifest.studiesToRetrieve(limit: wanted) }
                        guard let study = next.first(where: { inFlight[$0] == nil && !checking.contains($0) }) else {
                            return
                        }
                        let pending = try await BlockingPool.shared.run { try manifest.pendingInstances(of: study) }
                        let lanes = pending > StudyRetriever.Selection.listChunk ? pace.lanes : 1
                        if lanes > 1, !inFlight.isEmpty { return }
                        inFlight[study] = lanes
                        group.addTask { try await self.retrieve(study, parallel: lanes, staged: staged) }
                    }
                }
                try await fill()
                while true {
                    guard let retrieved = try await group.next() else {
                        // Nothing under way: studies waiting for a retry, or the end.
                        guard !stop.isSet, let at = try await BlockingPool.shared.run({ try manifest.nextRetry() })
                        else { return }
                        logger.info("pull: waiting until \(at) to retry the studies the source fell short on")
                        while Date() < at, !stop.isSet { try await Task.sleep(for: .milliseconds(100)) }
                        try await fill()
                        continue
                    }
                    let (study, outcome) = (retrieved.study, retrieved.outcome)
                    inFlight[study] = nil
                    if let arrivals = retrieved.arrivals {
                        // move-direct: the lane goes on to the next study while this one's
                        // arrivals are checked.
                        checking.insert(study)
                        group.addTask { try await arrivals() }
                        try await fill()
                        continue
                    }
                    checking.remove(study)
                    if outcome.pushedBack { pace.slow() } else if outcome.missing.isEmpty { pace.recover() }
                    let rest = outcome.received.filter { !retrieved.forwarded.contains($0.key) }
                    var done = Batch(studies: 1, instances: rest.count)
                    if !rest.isEmpty, job.source.retrieve != .moveDirect {
                        done.paths = [staging + "/" + study]
                        done.bytes = Self.bytes(rest.values)
                    }
                    if !outcome.missing.isEmpty, retrieved.attempts >= job.transfer.maxAttempts {
                        done.incomplete = [(study, outcome.missing)]
                    }
                    await staged.add(done)
                    try await fill()
                }
            }
            await staged.finish(nil)
        } catch {
            await staged.finish(error)
        }
    }

    /// One study: checkpointed, retrieved, recorded. While listed instances are missing and
    /// attempts remain, it is listed again, to be retried after the job's back-off (`backoff`
    /// times 4 to the attempts before, at most an hour). A source that pushes back (a transient
    /// rejection, an abort, a timeout) costs the study an attempt, not the run. A study asked
    /// in several requests is forwarded while it arrives: what each request brought is marked
    /// received and handed to `staged` at once.
    private func retrieve(
        _ study: String, parallel: Int, staged: StagedStudies
    ) async throws -> Retrieved {
        let manifest = self.manifest
        let (attempts, listed, capped) = try await BlockingPool.shared.run {
            (
                try manifest.markRetrieving(study), try manifest.listedInstances(of: study),
                try manifest.hasCappedSeries(study)
            )
        }
        // What an earlier retrieve delivered is not asked again (a study listed again because
        // its source count changed, or retried): the rest by UID, unless a capped series hides
        // instances only the whole study's retrieve brings. A study of more instances than one
        // request asks for is asked by UID too, a request at a time per lane, and forwarded a
        // request at a time.
        let pending = listed.filter { !$0.received }
        let moves = job.source.retrieve == .moveDirect
        // move-direct forwards nothing: it splits a large study only to use several lanes.
        let split = pending.count > StudyRetriever.Selection.listChunk && (parallel > 1 || !moves)
        let pieces = split && !moves
        let selection: StudyRetriever.Selection =
            (pending.count == listed.count && !split) || capped
            ? .study(study)
            : .instances(
                study: study, bySeries: Dictionary(grouping: pending, by: \.series).mapValues { $0.map(\.uid) })
        let retriever = StudyRetriever(job: job, logger: logger)
        let fresh = pending.count == listed.count
        let (folder, uids) = (staging + "/" + study, Set(pending.map(\.uid)))
        let forwarded = Forwarded()
        var onPiece: StudyRetriever.Piece?
        if pieces {
            onPiece = { (piece: [String: String]) in
                let received = piece.keys.filter { uids.contains($0) }
                try await BlockingPool.shared.run { try manifest.markReceived(received) }
                await forwarded.add(piece.keys)
                let files = piece.values.sorted()
                await staged.add(Batch(paths: files, instances: files.count, bytes: Self.bytes(files)))
            }
        }
        var outcome: StudyRetriever.Outcome
        var failed = false
        do {
            outcome =
                switch (job.source.retrieve, receiver) {
                case _ where pending.isEmpty:
                    StudyRetriever.Outcome(status: .success, counts: SubOperationCounts())
                case (.moveDirect, _):
                    try await retriever.moveDirect(selection, parallel: parallel)
                case (_, let receiver?):
                    try await retriever.move(
                        selection, listed: uids, staging: folder, receiver: receiver, fresh: fresh, parallel: parallel,
                        onPiece: onPiece)
                default:
                    try await retriever.get(
                        selection, listed: uids, sopClasses: pending.map(\.sopClass), staging: folder, fresh: fresh,
                        parallel: parallel, onPiece: onPiece)
                }
        } catch let error as AssociationError where Self.isPushBack(error) {
            outcome = pushedBack(study, error, attempts: attempts, listed: uids)
            failed = true
        }
        if job.source.retrieve == .moveDirect, !pending.isEmpty, !failed {
            // What arrived is asked of the destination once the lane is free for the next study
            // (even after a move that fell short: some of it may have come).
            var check = Retrieved(study: study, outcome: outcome, attempts: attempts, forwarded: [])
            check.arrivals = { [outcome] in
                var arrived: StudyRetriever.Outcome
                do {
                    arrived = try await retriever.arrived(
                        outcome, of: study, listed: pending.map { ($0.uid, $0.series) })
                } catch let error as AssociationError where Self.isPushBack(error) {
                    arrived = self.pushedBack(study, error, attempts: attempts, listed: uids)
                }
                return try await self.record(study, arrived, attempts: attempts, forwarded: [])
            }
            return check
        }
        return try await record(study, outcome, attempts: attempts, forwarded: await forwarded.uids)
    }

    /// A retrieve the source (or for `move-direct`, the destination's check) pushed back:
    /// nothing counts as received.
    private func pushedBack(
        _ study: String, _ error: AssociationError, attempts: Int, listed: Set<String>
    ) -> StudyRetriever.Outcome {
        logger.warning("pull: study \(study): \(error) (attempt \(attempts))")
        var outcome = StudyRetriever.Outcome(status: DIMSEStatus(0xA700), counts: SubOperationCounts())
        outcome.pushedBack = true
        return outcome.matched(against: listed)
    }

    /// Records a study's retrieve: retrieved, or listed again to be retried after the back-off
    /// while listed instances are missing and attempts remain. Pieces handed on before a
    /// push-back ended the retrieve came all the same: they are neither asked again nor
    /// reported missing.
    private func record(
        _ study: String, _ outcome: StudyRetriever.Outcome, attempts: Int, forwarded: Set<String>
    ) async throws -> Retrieved {
        var outcome = outcome
        outcome.missing.removeAll { forwarded.contains($0) }
        let c = outcome.counts
        let retryAt =
            outcome.missing.isEmpty || attempts >= job.transfer.maxAttempts
            ? nil : Date().addingTimeInterval(min(3600, job.transfer.backoff * pow(4, Double(attempts - 1))))
        try await BlockingPool.shared.run { [manifest, outcome] in
            try manifest.recordRetrieve(
                study, completed: c.completed, failed: c.failed, warning: c.warning, missing: outcome.missing,
                retryAt: retryAt)
        }
        if !outcome.missing.isEmpty {
            logger.warning(
                "pull: study \(study): \(outcome.missing.count) listed instances not received (status \(outcome.status), attempt \(attempts))"
            )
        }
        return Retrieved(study: study, outcome: outcome, attempts: attempts, forwarded: forwarded)
    }

    /// A study's retrieve: its outcome, the attempts it has had, the instances handed on in
    /// pieces while it arrived; for `move-direct`, first the moves alone, with the check of
    /// what arrived at the destination still to run (`arrivals`, which gives the study's
    /// recorded retrieve).
    struct Retrieved: Sendable {
        let study: String
        let outcome: StudyRetriever.Outcome
        let attempts: Int
        let forwarded: Set<String>
        var arrivals: (@Sendable () async throws -> Retrieved)?
    }

    /// The instances of a study handed on in pieces while it arrived.
    private actor Forwarded {
        var uids = Set<String>()
        func add(_ piece: some Sequence<String>) { uids.formUnion(piece) }
    }

    /// Failures of a retrieve that say the source is busy or faltering, not that the pull is
    /// wrong: retried later, at a slower pace.
    static func isPushBack(_ error: AssociationError) -> Bool {
        switch error.code {
        case .rejected: error.rejection?.result == 2
        case .abortedByPeer, .closedByPeer, .timeout: true
        default: false
        }
    }

    /// `source.receiver.max_staging` in bytes: a batch starts no further study once its staged
    /// files reach it (studies are retrieved whole, so a batch may pass it by the studies under
    /// way, `max_retrieves` at most).
    public var maxStaging: Int? { job.source.receiver?.maxStaging.flatMap(ByteCount.parse) }

    static func bytes(_ paths: some Sequence<String>) -> Int {
        paths.reduce(0) { total, path in
            var st = stat()
            return total + (stat(path, &st) == 0 ? Int(st.st_size) : 0)
        }
    }

    /// Removes the staged files whose instances are sent, then (with `folders`, once nothing
    /// is being retrieved: a retrieve may be writing into a folder emptied by a send) the
    /// emptied study folders; returns how many files went.
    @discardableResult
    public func cleanUp(folders: Bool = true) throws -> Int {
        let sent = try manifest.doneFiles(under: staging)
        for path in sent { unlink(path) }
        guard folders else { return sent.count }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? [] {
            let dir = staging + "/" + name
            if (try? FileManager.default.contentsOfDirectory(atPath: dir))?.isEmpty == true { rmdir(dir) }
        }
        return sent.count
    }
}
