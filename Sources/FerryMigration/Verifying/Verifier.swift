import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry verify`: asks the destination, by C-FIND (Study Root), what it holds of each study
/// this job sent, and compares per instance with the manifest. Each study is queried at
/// STUDY level (is it there, with its NumberOfStudyRelated... counts), then SERIES, then IMAGE
/// per series; answers are de-duplicated by UID (some PACS answer once per instance at every
/// level). A series whose IMAGE answer the peer capped (FE00 or A700 without a cancel of
/// ours) is asked again by lists of the UIDs sent, a few at a time, so a cap never leaves an
/// instance unchecked. Every unique key above the level is given, as dcmqrscp requires.
public struct Verifier {
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
        public var complete: Bool { run.missing == 0 && !findings.contains { $0.kind != "capped" } }
    }

    /// Where the queries go: the destination's Q/R SCP.
    public var queryAddress: (host: String, port: Int, calledAE: String) {
        let q = job.destination.query
        return (
            q?.host ?? job.destination.host, q?.port ?? job.destination.port,
            q?.calledAE ?? job.destination.calledAE
        )
    }

    public func run(progress: ((Int, Int) -> Void)? = nil) async throws -> Summary {
        let sent = try manifest.sentInstances()
        let address = queryAddress
        var record = VerifyRunRecord(
            startedAt: Self.clock(), destination: "\(address.calledAE)@\(address.host):\(address.port)")
        record.sent = sent.count
        var results: [Int64: Verification] = [:]
        var findings: [VerifyFinding] = []
        var missing: [String] = []
        let studies = Dictionary(grouping: sent, by: \.study)
        let jobUIDs = Set(sent.map(\.uid))
        if !studies.isEmpty {
            let association = try await open(address)
            var session = Session(association: association)
            do {
                for (n, study) in studies.keys.sorted().enumerated() {
                    let instances = studies[study] ?? []
                    let held = try await session.study(study)
                    var found: [String: Set<String>] = [:]
                    var seriesCounts: [String: Int] = [:]
                    if held.exists {
                        // The peer's series, and the job's own too: a capped or partial series
                        // list must not hide a series that is there.
                        let listedSeries = try await session.series(of: study)
                        let allSeries = Set(listedSeries.keys).union(instances.map(\.series))
                        for series in allSeries.sorted() {
                            seriesCounts[series] = listedSeries[series] ?? nil
                            let expected = instances.filter { $0.series == series }.map(\.uid)
                            let listed = try await session.images(of: study, series: series, expected: expected)
                            if listed.capped {
                                findings.append(
                                    VerifyFinding(
                                        kind: "capped", study: study, series: series,
                                        detail:
                                            "the destination capped the series' instance list; its sent instances were asked for by UID"
                                    ))
                            }
                            if listedSeries[series] != nil || !listed.uids.isEmpty { found[series] = listed.uids }
                        }
                    }
                    // Per instance.
                    for i in instances {
                        let ok = found[i.series]?.contains(i.uid) ?? false
                        results[i.id] = ok ? .verified : .missing
                        if !ok { missing.append(i.path) }
                    }
                    // What the destination holds that this job did not send.
                    for (series, uids) in found.sorted(by: { $0.key < $1.key }) {
                        for uid in uids.sorted() where !jobUIDs.contains(uid) {
                            findings.append(
                                VerifyFinding(
                                    kind: "unexpected", study: study, series: series, instance: uid,
                                    detail: "held by the destination, not sent by this job"))
                        }
                    }
                    // Counts: the peer's (NumberOf...Related... when it gives them, else its list)
                    // against what this job sent.
                    let sentCount = instances.count
                    let heldCount = held.count ?? found.values.reduce(0) { $0 + $1.count }
                    if held.exists, heldCount != sentCount {
                        findings.append(
                            VerifyFinding(
                                kind: "count", study: study,
                                detail:
                                    "the destination holds \(heldCount) instances of the study, this job sent \(sentCount)"
                            ))
                    }
                    for (series, uids) in found.sorted(by: { $0.key < $1.key }) {
                        let sentInSeries = instances.filter { $0.series == series }.count
                        let heldInSeries = seriesCounts[series] ?? uids.count
                        if heldInSeries != sentInSeries {
                            findings.append(
                                VerifyFinding(
                                    kind: "count", study: study, series: series,
                                    detail:
                                        "the destination holds \(heldInSeries) instances of the series, this job sent \(sentInSeries)"
                                ))
                        }
                    }
                    progress?(n + 1, studies.count)
                }
            } catch {
                await association.abort()
                throw error
            }
            try? await association.release()
            record.queries = session.queries
        }
        record.verified = results.values.filter { $0 == .verified }.count
        record.missing = results.values.filter { $0 == .missing }.count
        record.endedAt = Self.clock()
        let complete = record.missing == 0 && !findings.contains { $0.kind != "capped" }
        record.outcome = complete ? "verified" : "differences"
        record = try await manifest.recordVerification(record, results: results, findings: findings)
        return Summary(run: record, findings: findings, missing: missing)
    }

    private func open(_ address: (host: String, port: Int, calledAE: String)) async throws -> Association {
        let connection = try job.connection()
        var parameters = connection.parameters
        parameters.calledAE = address.calledAE
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: InformationModel.studyRoot.sopClass(.find),
                transferSyntaxes: [
                    TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid,
                ])
        ]
        return try await Association.open(
            host: address.host, port: address.port, parameters: parameters, timeouts: connection.timeouts,
            tls: try connection.tls.map { try $0.client() }, logger: logger)
    }

    static func clock() -> Double { now() }

    /// The C-FINDs of one verification, on one association.
    struct Session {
        let association: Association
        var queries = 0
        let sopClass = InformationModel.studyRoot.sopClass(.find)

        init(association: Association) { self.association = association }

        /// The answers' identifiers and whether the peer capped them (a final FE00 or A700
        /// to a query we never cancelled). Other failures end the verification.
        mutating func find(_ keys: [(Tag, VR, String)]) async throws -> (answers: [DataSet], capped: Bool) {
            var identifier = DataSet()
            for (tag, vr, value) in keys { identifier.set(tag, vr, value) }
            var answers: [DataSet] = []
            queries += 1
            let final = try await FindSCU.find(on: association, sopClass: sopClass, identifier: identifier) {
                _, answer in answers.append(answer)
            }
            switch final.status.code {
            case 0x0000: return (answers, false)
            case 0xFE00, 0xA700: return (answers, true)
            default:
                throw ServiceError(
                    .refused,
                    "the destination answered a C-FIND with \(final.status)\(final.errorComment.map { ": \($0)" } ?? "")",
                    status: final.status)
            }
        }

        /// Whether the study is there, and how many instances the peer says it holds.
        mutating func study(_ uid: String) async throws -> (exists: Bool, count: Int?) {
            let (answers, _) = try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "STUDY"), (QueryKeys.studyInstanceUID, .UI, uid),
                (QueryKeys.numberOfStudyRelatedInstances, .IS, ""),
            ])
            let mine = answers.filter { $0.string(QueryKeys.studyInstanceUID) == uid }
            let counts = Set(mine.compactMap { $0.string(QueryKeys.numberOfStudyRelatedInstances).flatMap { Int($0) } })
            return (!mine.isEmpty, counts.count == 1 ? counts.first : nil)
        }

        /// The study's series, each with the peer's count when it gives one.
        mutating func series(of study: String) async throws -> [String: Int?] {
            let (answers, _) = try await find([
                (QueryKeys.queryRetrieveLevel, .CS, "SERIES"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, ""), (QueryKeys.numberOfSeriesRelatedInstances, .IS, ""),
            ])
            var out: [String: Int?] = [:]
            for a in answers {
                guard let uid = a.string(QueryKeys.seriesInstanceUID), !uid.isEmpty else { continue }
                let count = a.string(QueryKeys.numberOfSeriesRelatedInstances).flatMap { Int($0) }
                out[uid] = count ?? out[uid] ?? nil
            }
            return out
        }

        /// The instances the peer lists in a series; when it caps the list, the `expected`
        /// UIDs asked for by lists instead.
        mutating func images(
            of study: String, series: String, expected: [String]
        ) async throws -> (uids: Set<String>, capped: Bool) {
            let base: [(Tag, VR, String)] = [
                (QueryKeys.queryRetrieveLevel, .CS, "IMAGE"), (QueryKeys.studyInstanceUID, .UI, study),
                (QueryKeys.seriesInstanceUID, .UI, series),
            ]
            let (answers, capped) = try await find(base + [(QueryKeys.sopInstanceUID, .UI, "")])
            var uids = Set(answers.compactMap { $0.string(QueryKeys.sopInstanceUID) }.filter { !$0.isEmpty })
            guard capped else { return (uids, false) }
            // Lists of the UIDs sent; a list the peer caps again is halved until it is not.
            var lists = stride(from: 0, to: expected.count, by: Verifier.listChunk).map {
                expected[$0..<min($0 + Verifier.listChunk, expected.count)]
            }
            while let list = lists.popLast() {
                let (listed, cappedAgain) = try await find(
                    base + [(QueryKeys.sopInstanceUID, .UI, list.joined(separator: "\\"))])
                if cappedAgain, list.count > 1 {
                    let half = list.startIndex + list.count / 2
                    lists += [list[list.startIndex..<half], list[half...]]
                } else {
                    uids.formUnion(listed.compactMap { $0.string(QueryKeys.sopInstanceUID) })
                }
            }
            return (uids, true)
        }
    }
}
