import FerryNetwork
import FerryServices
import Logging

/// `ferry plan --probe`: opens the plan's associations against the destination without
/// sending data (A-ASSOCIATE, then A-RELEASE) and stores, per proposed context, what was
/// accepted or why not. `run` reads the stored answers through the report.
public struct Prober {
    public let job: Job
    public let manifest: Manifest
    public let logger: Logger

    public init(job: Job, manifest: Manifest, logger: Logger) {
        self.job = job
        self.manifest = manifest
        self.logger = logger
    }

    public func probe() async throws -> [ProbeKey: ProbeRecord] {
        // A file of each group of SOP class and syntax stands for its group.
        try await probe(try manifest.groupsToSend().compactMap { $0.sample?.outgoing })
    }

    /// Probes the plans of `pending` (a pull job's: one file standing for each group of its
    /// inventory); `store`: the answers are kept for `ferry run`, which fails the planned files
    /// the destination cannot take (not for a pull's stand-ins: its files come in syntaxes
    /// and classes the inventory may not know).
    public func probe(_ pending: [OutgoingFile], store: Bool = true) async throws -> [ProbeKey: ProbeRecord] {
        let plans = ContextPlanner.plan(pending, options: job.proposalOptions)
        let connection = try job.connection()
        let tls = try connection.tls.map { try $0.client() }
        var results: [ProbeKey: ProbeRecord] = [:]
        for plan in plans {
            var p = connection.parameters
            p.presentationContexts = plan.contexts
            let association = try await FerryNetwork.Association.open(
                host: job.destination.host, port: job.destination.port, parameters: p,
                timeouts: connection.timeouts, tls: tls, logger: logger)
            let answers = Dictionary(
                association.acceptance.presentationContexts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            try await association.release()
            let stamp = now()
            for pc in plan.contexts {
                let answer = answers[pc.id]
                for ts in pc.transferSyntaxes {
                    let accepted = answer?.result == .acceptance && answer?.transferSyntax == ts
                    let key = ProbeKey(sop: pc.abstractSyntax, ts: ts)
                    // A syntax counts as accepted if any context carrying it was accepted with it.
                    if results[key]?.accepted == true { continue }
                    results[key] = ProbeRecord(
                        sopClassUID: pc.abstractSyntax, transferSyntaxUID: ts, accepted: accepted,
                        reason: accepted
                            ? nil
                            : (answer.map { $0.result == .acceptance ? "accepted with another syntax" : $0.result.name }
                                ?? "no answer"),
                        probedAt: stamp, destination: job.destinationDescription)
                }
            }
        }
        if store { try await manifest.replaceProbe(Array(results.values)) }
        return results
    }

    /// The stored answers of the last probe of this job's destination.
    public static func stored(_ manifest: Manifest, for job: Job) throws -> [ProbeKey: ProbeRecord] {
        Dictionary(
            try manifest.probes().filter { $0.destination == job.destinationDescription }
                .map { (ProbeKey(sop: $0.sopClassUID, ts: $0.transferSyntaxUID), $0) }, uniquingKeysWith: { a, _ in a })
    }
}
