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
        /// The paths of the first `missingListed` missing instances' files (the run counts them all).
        public var missing: [String]
        /// Every sent instance verified, and no study or series count differs.
        public var complete: Bool { run.missing == 0 && !findings.contains { $0.kind != .capped } }
    }

    /// Instances read from the manifest at a time (whole studies: a page's last study waits
    /// for the next page, so what is held is bounded by a page and the largest study).
    static let pageSize = 5000
    /// Missing paths kept for the summary.
    static let missingListed = 1000

    /// `progress` gets the instances done and the instances to do, from any session's task.
    /// The job's instances are read a page at a time, and each page's results written before
    /// the next: nothing proportional to the job is held.
    public func run(progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> Summary {
        let moved = job.moves
        let total = try await manifest.beginVerification(moved: moved)
        let address = job.queryAddress
        var record = VerifyRunRecord(
            startedAt: Self.clock(), destination: "\(address.calledAE)@\(address.host):\(address.port)")
        record.sent = total
        var findings: [VerifyFinding] = []
        var missing: [String] = []
        let done = Counter()
        var position: Int64 = 0
        var carried: [SentInstance] = []
        var exhausted = false
        while !exhausted {
            let page = try await manifest.verificationPage(moved: moved, after: position, limit: Self.pageSize)
            if let last = page.last { position = last.position }
            exhausted = page.count < Self.pageSize
            let instances: [SentInstance]
            (instances, carried) = wholeStudies(carried + page.map(\.instance), last: exhausted) { $0.study }
            guard !instances.isEmpty else { continue }
            let tally = try await verify(instances, queries: &record.queries) { n in
                progress?(done.add(n), total)
            }
            try await manifest.recordVerificationResults(tally.results, moved: moved)
            record.verified += tally.results.values.filter { $0 == .verified }.count
            record.missing += tally.results.values.filter { $0 == .missing }.count
            findings += tally.findings
            missing += tally.missing.prefix(Self.missingListed - missing.count)
        }
        record.endedAt = Self.clock()
        record.outcome = Summary(run: record, findings: findings, missing: missing).complete ? .verified : .differences
        record = try await manifest.recordVerification(record, findings: findings)
        return Summary(run: record, findings: findings, missing: missing)
    }

    /// Verifies whole studies: dealt round-robin to `verify.associations` sessions querying
    /// at once; `studyDone` gets each study's instance count.
    private func verify(
        _ sent: [SentInstance], queries: inout Int, studyDone: @escaping @Sendable (Int) -> Void
    ) async throws -> Tally {
        let studies = Dictionary(grouping: sent, by: \.study)
        let order = studies.keys.sorted()
        let lanes = max(1, min(job.transfer.capped(job.verify.associations), order.count))
        let (job, logger) = (job, logger)
        var held: [String: Holdings] = [:]
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
                        studyDone(studies[study]?.count ?? 0)
                    }
                    try? await session.association.release()
                    return (out, session.queries)
                }
            }
            for try await (part, q) in group {
                held.merge(part) { a, _ in a }
                queries += q
            }
        }
        var tally = Tally()
        for study in order {
            tally.compare(study: study, sent: studies[study] ?? [], held: held[study] ?? Holdings())
        }
        return tally
    }

    static func clock() -> Double { now() }
}

/// Studies done so far, counted from the sessions' tasks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add(_ k: Int) -> Int {
        count.withLock { n in
            n += k; return n
        }
    }
}
