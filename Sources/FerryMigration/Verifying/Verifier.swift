import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import Synchronization

/// `ferry verify`: asks the destination, by C-FIND (Study Root), what it holds of each study
/// this job sent, and compares per instance with the manifest. Each study is queried at
/// STUDY level (is it there, with its NumberOfStudyRelated... counts), then SERIES, then IMAGE
/// per series; answers are de-duplicated by UID (some PACS answer once per instance at every
/// level). A series whose IMAGE answer the peer capped (FE00 or A7xx without a cancel of
/// ours) is asked again by lists of the UIDs sent, a few at a time, so a cap never leaves an
/// instance unchecked. Every unique key above the level is given, as dcmqrscp requires.
public struct Verifier: Sendable {
    public let job: Job
    public let manifest: Manifest
    public let logger: Logger
    /// UIDs per list query when a series' answer was capped (halved while still capped).
    static let listChunk = 50

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
    }

    public struct Summary: Sendable {
        public var run: VerifyRunRecord
        public var findings: [VerifyFinding]
        /// The paths of the missing instances' files.
        public var missing: [String]
        /// Every sent instance verified, and no study or series count differs.
        public var complete: Bool { run.missing == 0 && !findings.contains { $0.kind != .capped } }
    }

    /// `progress` gets the studies done and the studies to do, from any session's task.
    public func run(progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> Summary {
        let moved = job.moves
        let sent = try await BlockingPool.shared.run { [manifest] in
            try moved ? manifest.movedInstances() : manifest.sentInstances()
        }
        let address = job.queryAddress
        var record = VerifyRunRecord(
            startedAt: Self.clock(), destination: "\(address.calledAE)@\(address.host):\(address.port)")
        record.sent = sent.count
        var tally = Tally(jobUIDs: Set(sent.map(\.uid)))
        let studies = Dictionary(grouping: sent, by: \.study)
        let order = studies.keys.sorted()
        // Studies dealt round-robin to `verify.associations` sessions querying at once.
        let lanes = max(1, min(job.transfer.capped(job.verify.associations), order.count))
        var held: [String: Holdings] = [:]
        let done = Counter()
        try await withThrowingTaskGroup(of: ([String: Holdings], Int).self) { group in
            for lane in 0..<lanes {
                let mine = stride(from: lane, to: order.count, by: lanes).map { order[$0] }
                group.addTask {
                    var session = Session(association: try await job.openQueryAssociation(logger: logger))
                    var out: [String: Holdings] = [:]
                    for study in mine {
                        // A study whose association failed (timeout, abort, reset) is asked again
                        // on a new one, up to the sender's max_attempts, after its back-off.
                        var attempt = 1
                        while true {
                            do {
                                out[study] = try await session.holdings(of: study, sent: studies[study] ?? [])
                                break
                            } catch let error as AssociationError where attempt < job.transfer.maxAttempts {
                                await session.association.abort()
                                logger.warning("verify: study \(study): \(error); asking again on a new association")
                                try await Task.sleep(
                                    for: .milliseconds(Int64(job.transfer.backoff * 1000 * Double(attempt))))
                                attempt += 1
                                let queries = session.queries
                                session = Session(association: try await job.openQueryAssociation(logger: logger))
                                session.queries = queries
                            } catch {
                                await session.association.abort()
                                throw error
                            }
                        }
                        progress?(done.next(), order.count)
                    }
                    try? await session.association.release()
                    return (out, session.queries)
                }
            }
            for try await (part, queries) in group {
                held.merge(part) { a, _ in a }
                record.queries += queries
            }
        }
        for study in order {
            tally.compare(study: study, sent: studies[study] ?? [], held: held[study] ?? Holdings())
        }
        record.verified = tally.results.values.filter { $0 == .verified }.count
        record.missing = tally.results.values.filter { $0 == .missing }.count
        record.endedAt = Self.clock()
        let summary = Summary(run: record, findings: tally.findings, missing: tally.missing)
        record.outcome = summary.complete ? .verified : .differences
        record = try await manifest.recordVerification(
            record, results: tally.results, findings: tally.findings, moved: moved)
        return Summary(run: record, findings: tally.findings, missing: tally.missing)
    }

    static func clock() -> Double { now() }
}

/// Studies done so far, counted from the sessions' tasks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func next() -> Int {
        count.withLock { n in
            n += 1; return n
        }
    }
}
