import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc
import Logging
import NIOCore

/// Storage commitment after a run's sends (PS3.4 Annex J, Push Model): the sent instances not
/// yet committed, in requests per study, per N instances or all at once (job setting); each
/// request recorded in the manifest before its N-ACTION, each report's per-instance results
/// after it. Reports are taken on the requesting association and, with `listen_port`, on
/// associations the destination opens to Ferry. A request left unanswered (the wait ended,
/// the run was killed) is asked again by the next run.
public struct Committer: Sendable {
    public let job: Job
    public let manifest: Manifest
    public let logger: Logger

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
    }

    public struct Summary: Sendable {
        /// Requests made by this run.
        public var requests = 0
        /// Over the whole manifest, after this run.
        public var counts = CommitmentCounts()
        /// Requests the destination refused, with why.
        public var refusals: [String] = []
        public var complete: Bool { counts.failed == 0 && counts.outstanding == 0 && refusals.isEmpty }
    }

    public func run() async throws -> Summary {
        guard let settings = job.commitment else { return Summary() }
        let candidates = try await BlockingPool.shared.run { [manifest] in try manifest.commitmentCandidates() }
        var summary = Summary()
        if candidates.isEmpty {
            summary.counts = try await BlockingPool.shared.run { [manifest] in try manifest.commitmentCounts() }
            return summary
        }
        let batches = Self.batches(candidates, settings.batch)
        let requests = batches.map { batch in
            CommitmentRequest(
                transactionUID: UIDGenerator.make(),
                references: batch.map { SOPReference(sopClass: $0.sopClass, sopInstance: $0.uid) })
        }
        let inbox = CommitmentInbox()
        let outcomes = try await withThrowingTaskGroup(of: [String: CommitmentSCU.Outcome]?.self) { group in
            if let port = settings.listenPort {
                let (listening, signal) = AsyncStream<Result<Void, Error>>.makeStream()
                let scp = StorageSCP(
                    settings: listenerSettings(port: port, host: settings.listenHost, inbox), logger: logger)
                group.addTask {
                    do {
                        try await scp.run { _ in signal.yield(.success(())) }
                    } catch {
                        signal.yield(.failure(error))
                        if !(error is CancellationError) {
                            throw MigrationError(
                                .destinationUnreachable,
                                "storage commitment: cannot listen on \(settings.listenHost):\(port): \(error)",
                                underlying: error)
                        }
                    }
                    return nil
                }
                for await started in listening {
                    try started.get()
                    break
                }
            }
            let association = try await open()
            try await manifest.beginCommitment(
                zip(requests, batches).map { ($0.transactionUID, $1.map(\.id)) },
                superseding: Set(candidates.compactMap(\.earlierTransaction)))
            let outcomes: [String: CommitmentSCU.Outcome]
            do {
                outcomes = try await CommitmentSCU.commit(
                    requests, on: association, inbox: inbox, wait: .milliseconds(Int64(settings.wait * 1000)),
                    logger: logger)
            } catch {
                await association.abort()
                throw error
            }
            group.cancelAll()
            return outcomes
        }
        for (request, batch) in zip(requests, batches) {
            let outcome = outcomes[request.transactionUID] ?? .noReport
            try await manifest.recordCommitment(
                request.transactionUID, outcome,
                ids: Dictionary(batch.map { ($0.uid, $0.id) }, uniquingKeysWith: { a, _ in a }))
            if case .refused(let status, let comment) = outcome {
                summary.refusals.append("\(request.transactionUID): \(status)\(comment.map { " (\($0))" } ?? "")")
            }
        }
        summary.requests = requests.count
        summary.counts = try await BlockingPool.shared.run { [manifest] in try manifest.commitmentCounts() }
        return summary
    }

    /// The candidates cut into requests as the job asks.
    static func batches(_ candidates: [CommitmentCandidate], _ batch: Job.Commitment.Batch) -> [[CommitmentCandidate]] {
        func chunks(_ list: [CommitmentCandidate], _ n: Int) -> [[CommitmentCandidate]] {
            stride(from: 0, to: list.count, by: n).map { Array(list[$0..<min($0 + n, list.count)]) }
        }
        switch batch {
        case .end: return chunks(candidates, Job.Commitment.maxPerRequest)
        case .instances(let n): return chunks(candidates, max(1, n))
        case .study:
            return Self.consecutiveRuns(Array(candidates.indices)) { candidates[$0].study }
                .flatMap { chunks($0.map { candidates[$0] }, Job.Commitment.maxPerRequest) }
        }
    }

    /// Ferry's listener for reports on new associations: Verification and storage commitment
    /// only, as the AE the destination knows Ferry by (its calling AE), from the destination's
    /// host only (its addresses, resolved when the listener starts).
    private func listenerSettings(port: Int, host: String, _ inbox: CommitmentInbox) -> ReceiverSettings {
        var r = ReceiverSettings(port: port)
        r.host = host
        r.policy = .commitmentListener(aeTitle: job.destination.callingAE)
        r.policy.allowedHosts = Self.addresses(of: job.destination.host)
        r.commitmentInbox = inbox
        r.output.ignore = true
        return r
    }

    private func open() async throws -> Association {
        let association: Association
        do {
            association = try await job.openAssociation(
                to: job.destinationPeer, contexts: [Job.context(StorageCommitment.sopClass)], logger: logger)
        } catch {
            throw MigrationError(
                .destinationUnreachable, "storage commitment: \(job.destinationDescription): \(error)",
                underlying: error)
        }
        guard association.acceptedContexts.contains(where: { $0.abstractSyntax == StorageCommitment.sopClass }) else {
            try? await association.release()
            throw MigrationError(
                .destinationUnreachable,
                "storage commitment: \(job.destinationDescription) does not accept the Storage Commitment Push Model SOP class"
            )
        }
        return association
    }

    /// The addresses `host` resolves to (itself when it is one, or when it does not resolve).
    static func addresses(of host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [host] }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let entry = next {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                entry.pointee.ai_addr, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
                == 0
            {
                out.append(String(cString: text))
            }
            next = entry.pointee.ai_next
        }
        return out.isEmpty ? [host] : out
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
}
