import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// The dry-run report of `ferry plan`: what would be sent, how it would be negotiated, and
/// what cannot be sent and why.
public struct PlanReport: Codable, Sendable {
    public struct Group: Codable, Sendable {
        public var sopClass: String
        public var sopClassName: String
        public var transferSyntax: String
        public var transferSyntaxName: String
        public var files: Int
        public var bytes: Int
        /// With a probe: "send as is", "send converted ...", "transcode: A -> B ...", or
        /// "cannot be sent: <the sender's reason>".
        public var outcome: String?
    }
    public struct Context: Codable, Sendable {
        public var id: Int
        public var abstractSyntax: String
        public var transferSyntaxes: [String]
        /// With a probe: accepted transfer syntax, or the rejection reason.
        public var probe: String?
    }
    public struct AssociationPlanReport: Codable, Sendable {
        public var files: Int
        public var contexts: [Context]
    }
    public struct Unsendable: Codable, Sendable {
        public var path: String
        public var state: String
        public var reason: String
    }

    public var job: String
    public var destination: String
    public var states: [String: Int]
    public var groups: [Group]
    public var associations: [AssociationPlanReport]
    public var unsendable: [Unsendable]

    /// At most this many files that cannot be sent are listed (the states count them all;
    /// `ferry report` lists every one).
    static let unsendableListed = 1000

    /// Builds the report from the manifest's counts by group; `probe` maps (SOP class,
    /// transfer syntax) to acceptance.
    public static func make(job: Job, manifest: Manifest, probe: [ProbeKey: ProbeRecord] = [:]) throws -> PlanReport {
        let pending = try manifest.groupsToSend()
        var groups: [Group] = []
        // One file of each group stands for it: the route is judged on a real file.
        for p in pending {
            let sop = p.sopClass ?? "?", ts = p.transferSyntax ?? "?"
            var g = Group(
                sopClass: sop, sopClassName: UIDRegistry.name(of: sop), transferSyntax: ts,
                transferSyntaxName: UIDRegistry.name(of: ts), files: p.files, bytes: p.bytes)
            if !probe.isEmpty { g.outcome = Self.outcome(for: g, sample: p.sample?.outgoing, probe: probe, job: job) }
            groups.append(g)
        }
        let samples = pending.compactMap { p in p.sample?.outgoing.map { (file: $0, files: p.files) } }
        let plans = ContextPlanner.plan(samples.map(\.file), options: job.proposalOptions)
        let associations = Self.associations(plans, files: { $0.reduce(0) { $0 + samples[$1].files } }, probe: probe)
        let unsendable = try manifest.instances(in: [.failed, .conflict, .skipped], limit: unsendableListed)
            .map { Unsendable(path: $0.path, state: $0.state.rawValue, reason: $0.error ?? $0.statusName ?? "") }
        var states: [String: Int] = [:]
        for (s, n) in try manifest.counts() { states[s.rawValue] = n }
        return PlanReport(
            job: job.name, destination: job.destinationDescription,
            states: states,
            groups: groups.sorted {
                ($0.sopClassName, $0.transferSyntaxName) < ($1.sopClassName, $1.transferSyntaxName)
            },
            associations: associations, unsendable: unsendable.sorted { $0.path < $1.path })
    }

    /// A pull job's dry run: the listed instances not received yet, by SOP class and the
    /// syntax the source holds them in (`pending`, from the inventory); the contexts the sender
    /// would propose for them and, with a probe, what the destination accepts and what would
    /// happen to each group. Where the source did not say the syntax, uncompressed is assumed
    /// (Ferry decodes what the destination does not take as held).
    public static func make(
        job: Job, pending: [(sopClass: String, transferSyntax: String?, instances: Int)],
        studies: [SourceStudyState: Int], probe: [ProbeKey: ProbeRecord] = [:]
    ) -> PlanReport {
        var groups: [Group] = []
        var samples: [OutgoingFile] = []
        var groupOf: [Int] = []  // a sample's group
        for p in pending {
            let held = p.transferSyntax.flatMap(TransferSyntax.lookup)
            let sample = standIn(for: p)
            var g = Group(
                sopClass: p.sopClass, sopClassName: UIDRegistry.name(of: p.sopClass),
                transferSyntax: held?.uid ?? p.transferSyntax ?? "",
                transferSyntaxName: held?.name ?? p.transferSyntax ?? "not said by the source", files: p.instances,
                bytes: 0)
            if !probe.isEmpty {
                let outcome = sample.map { Self.outcome(for: g, sample: $0, probe: probe, job: job) }
                g.outcome =
                    outcome.map { held == nil ? "if held uncompressed: \($0)" : $0 }
                    ?? "not probed: the source did not say the SOP class"
            }
            if let sample {
                groupOf.append(groups.count)
                samples.append(sample)
            }
            groups.append(g)
        }
        let plans = ContextPlanner.plan(samples, options: job.proposalOptions)
        return PlanReport(
            job: job.name, destination: job.destinationDescription,
            states: Dictionary(uniqueKeysWithValues: studies.map { ("studies " + $0.key.rawValue, $0.value) }),
            groups: groups,
            associations: Self.associations(
                plans, files: { $0.reduce(0) { $0 + groups[groupOf[$1]].files } }, probe: probe),
            unsendable: [])
    }

    /// A file standing for each group of a pull's inventory: its SOP class, in the syntax the
    /// source holds it (uncompressed where not said). A group whose class the source did not
    /// say has no stand-in: there is nothing to propose for it.
    public static func standIns(
        for pending: [(sopClass: String, transferSyntax: String?, instances: Int)]
    ) -> [OutgoingFile] {
        pending.compactMap(standIn)
    }

    static func standIn(for group: (sopClass: String, transferSyntax: String?, instances: Int)) -> OutgoingFile? {
        guard !group.sopClass.isEmpty else { return nil }
        return OutgoingFile(
            path: "", sopClassUID: group.sopClass, sopInstanceUID: "",
            transferSyntax: group.transferSyntax.flatMap(TransferSyntax.lookup) ?? .explicitVRLittleEndian,
            dataSetOffset: 0, fileSize: 0)
    }

    /// The association plans as reported: each context, with the probe's answer; `files`
    /// counts what a plan's files stand for.
    static func associations(
        _ plans: [AssociationPlan], files: ([Int]) -> Int, probe: [ProbeKey: ProbeRecord]
    ) -> [AssociationPlanReport] {
        plans.map { plan in
            AssociationPlanReport(
                files: files(plan.files),
                contexts: plan.contexts.map { pc in
                    var c = Context(
                        id: Int(pc.id), abstractSyntax: pc.abstractSyntax, transferSyntaxes: pc.transferSyntaxes)
                    if !probe.isEmpty {
                        let answers = pc.transferSyntaxes.compactMap { probe[ProbeKey(sop: pc.abstractSyntax, ts: $0)] }
                        c.probe =
                            answers.first(where: \.accepted).map { "accepted \($0.transferSyntaxUID)" } ?? answers
                            .first?.reason ?? "not probed"
                    }
                    return c
                })
        }
    }

    /// The route the sender would take for `file` on the contexts the probe saw accepted:
    /// the sender's own decision (`FileSender.route`) on the same inputs.
    static func route(for file: OutgoingFile, probe: [ProbeKey: ProbeRecord], job: Job) -> Route {
        let accepted = probe.values.filter { $0.sopClassUID == file.sopClassUID && $0.accepted }.sorted {
            $0.transferSyntaxUID < $1.transferSyntaxUID
        }
        .enumerated().map {
            AcceptedContext(
                id: UInt8(truncatingIfNeeded: 2 * $0.offset + 1), abstractSyntax: file.sopClassUID,
                transferSyntax: $0.element.transferSyntaxUID)
        }
        return job.fileSender(logger: Logger(label: "ferry.plan")).route(for: file, accepted: accepted)
    }

    /// What would happen to a group, in words.
    static func outcome(for g: Group, sample: OutgoingFile?, probe: [ProbeKey: ProbeRecord], job: Job) -> String {
        let own = TransferSyntax.lookup(g.transferSyntax)
        guard let sample else { return "cannot be sent: the header lacks what sending needs" }
        switch route(for: sample, probe: probe, job: job) {
        case .asIs(_, let ts):
            return ts == own ? "send as is" : "send as is, declared \(ts.name)"
        case .convert(_, let target):
            guard let own, own.isEncapsulated || target.isEncapsulated else {
                return "send converted (uncompressed syntax change)"
            }
            let kind =
                !target.isLossless
                ? "lossy: new SOP Instance UID"
                : target.isEncapsulated
                    ? (job.transcodingPolicy.verify ? "lossless, verified" : "lossless, not verified")
                    : own.isLossless ? "lossless decode" : "decode of a lossy stream"
            return "transcode: \(own.name) -> \(target.name) (\(kind))"
        case .impossible(let reason):
            return "cannot be sent: \(reason)"
        }
    }

    // MARK: Rendering

    public func table() -> String {
        var lines = [
            "job \(job) -> \(destination)",
            "states: " + states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "), "",
            "groups (SOP class x transfer syntax):",
        ]
        for g in groups {
            lines.append(
                "  \(pad(g.sopClassName, 40)) \(pad(g.transferSyntaxName, 44)) \(pad(String(g.files), 6)) files \(Self.megabytes(g.bytes))"
                    + (g.outcome.map { "  -> \($0)" } ?? ""))
        }
        lines.append("")
        for (i, a) in associations.enumerated() {
            lines.append("association plan \(i + 1): \(a.files) files, \(a.contexts.count) presentation contexts")
            for c in a.contexts
            where a.contexts.count <= 40 || c.probe != nil
                || groups.contains(where: { $0.sopClass == c.abstractSyntax })
            {
                lines.append(
                    "  [\(c.id)] \(UIDRegistry.name(of: c.abstractSyntax)): \(c.transferSyntaxes.map(UIDRegistry.name(of:)).joined(separator: ", "))"
                        + (c.probe.map { "  -> \($0)" } ?? ""))
            }
        }
        if !unsendable.isEmpty {
            let total = ["failed", "conflict", "skipped"].reduce(0) { $0 + (states[$1] ?? 0) }
            lines.append("")
            lines.append("cannot be sent (\(total)):")
            for u in unsendable { lines.append("  \(u.state): \(u.path): \(u.reason)") }
            if total > unsendable.count { lines.append("  ... \(total - unsendable.count) more (ferry report)") }
        }
        return lines.joined(separator: "\n")
    }

    static func megabytes(_ bytes: Int) -> String {
        let mb = Double(bytes) / 1e6
        return mb >= 10 ? "\(Int(mb.rounded())) MB" : "\(Double(Int(mb * 10)) / 10) MB"
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}

public struct ProbeKey: Hashable, Sendable {
    public var sop: String
    public var ts: String
    public init(sop: String, ts: String) {
        self.sop = sop
        self.ts = ts
    }
}

extension Job {
    public var destinationDescription: String { "\(destination.calledAE)@\(destination.host):\(destination.port)" }

    public var proposalOptions: ProposalOptions {
        var o = ProposalOptions()
        o.preference = transfer.proposal
        o.requiredOnly = true
        o.transcoding = transcodingPolicy
        return o
    }

    /// The job's transcoding policy (validated by `validate()`; the default if it is invalid).
    public var transcodingPolicy: TranscodingPolicy {
        var policy = (try? transfer.transcoding.policy()) ?? TranscodingPolicy()
        // DCMTK's -xd: deflate every uncompressed file the destination takes deflated.
        if policy.target == nil, transfer.proposal == .deflated { policy.target = .deflatedExplicitVRLittleEndian }
        return policy
    }
}
