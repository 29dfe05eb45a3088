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

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.init(job: job, manifest: manifest, logger: logger, receiver: nil)
    }

    private init(job: Job, manifest: Manifest, logger: Logger, receiver: MoveReceiver?) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
        self.receiver = receiver
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
        case .moveDirect:
            throw MigrationError.invalidJob(
                "job \(job.name): retrieve: move-direct is not built yet; retrieve: move and get are")
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
        /// The staging folders of the studies retrieved.
        public var folders: [String] = []
        public var instances = 0
        /// Studies retrieved with listed instances missing after their last attempt.
        public var incomplete: [(study: String, missing: [String])] = []
    }

    /// Retrieves the next studies, up to `max_retrieves` at once and `studies` in all; nil when
    /// none is left to retrieve.
    public func retrieveNext(studies limit: Int) async throws -> Batch? {
        guard job.source.retrieve == .get || receiver != nil else {
            throw MigrationError.invalidJob("job \(job.name): a pull by C-MOVE retrieves inside serving")
        }
        let manifest = self.manifest
        let next = try await BlockingPool.shared.run { try manifest.studiesToRetrieve(limit: limit) }
        if next.isEmpty { return nil }
        var batch = Batch()
        let lanes = max(1, min(job.source.maxRetrieves, next.count))
        try await withThrowingTaskGroup(of: (String, StudyRetriever.Outcome, Int).self) { group in
            var pending = next[...]
            func start() {
                guard let study = pending.popFirst() else { return }
                group.addTask { try await self.retrieve(study) }
            }
            for _ in 0..<lanes { start() }
            var staged = 0
            while let (study, outcome, attempts) = try await group.next() {
                batch.folders.append(staging + "/" + study)
                batch.instances += outcome.received.count
                if !outcome.missing.isEmpty, attempts >= job.transfer.maxAttempts {
                    batch.incomplete.append((study, outcome.missing))
                }
                // Staging full: no further study starts; the batch is sent and its files go.
                staged += Self.bytes(outcome.received.values)
                if let limit = maxStaging, staged >= limit { pending = [] }
                start()
            }
        }
        return batch
    }

    /// One study: checkpointed, retrieved, recorded; listed again while instances are missing
    /// and attempts remain.
    private func retrieve(_ study: String) async throws -> (String, StudyRetriever.Outcome, Int) {
        let manifest = self.manifest
        let (attempts, listed) = try await BlockingPool.shared.run {
            (try manifest.markRetrieving(study), try manifest.listedInstances(of: study))
        }
        let retriever = StudyRetriever(job: job, logger: logger)
        let (folder, uids) = (staging + "/" + study, Set(listed.map(\.uid)))
        let outcome =
            if let receiver {
                try await retriever.move(study: study, listed: uids, staging: folder, receiver: receiver)
            } else {
                try await retriever.get(
                    study: study, listed: uids, sopClasses: listed.map(\.sopClass), staging: folder)
            }
        let (c, missing) = (outcome.counts, outcome.missing.count)
        let again = missing > 0 && attempts < job.transfer.maxAttempts
        try await BlockingPool.shared.run {
            try manifest.recordRetrieve(
                study, completed: c.completed, failed: c.failed, warning: c.warning, missing: missing, again: again)
        }
        if missing > 0 {
            logger.warning(
                "pull: study \(study): \(missing) listed instances not received (status \(outcome.status), attempt \(attempts))"
            )
        }
        return (study, outcome, attempts)
    }

    /// `source.receiver.max_staging` in bytes: a batch starts no further study once its staged
    /// files reach it (studies are retrieved whole, so a batch may pass it by the studies under
    /// way, `max_retrieves` at most).
    var maxStaging: Int? { job.source.receiver?.maxStaging.flatMap(ByteCount.parse) }

    static func bytes(_ paths: some Sequence<String>) -> Int {
        paths.reduce(0) { total, path in
            var st = stat()
            return total + (stat(path, &st) == 0 ? Int(st.st_size) : 0)
        }
    }

    /// Removes the staged files whose instances are sent, then the emptied study folders;
    /// returns how many files went.
    @discardableResult
    public func cleanUp() throws -> Int {
        let sent = try manifest.doneFiles(under: staging)
        for path in sent { unlink(path) }
        let folders = (try? FileManager.default.contentsOfDirectory(atPath: staging)) ?? []
        for folder in folders {
            let dir = staging + "/" + folder
            if (try? FileManager.default.contentsOfDirectory(atPath: dir))?.isEmpty == true { rmdir(dir) }
        }
        return sent.count
    }
}
