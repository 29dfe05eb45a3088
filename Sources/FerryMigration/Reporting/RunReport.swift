import FerryDICOM
import Foundation

/// `ferry report`: every instance with its state and outcome, and totals per group.
public struct RunReport: Codable, Sendable {
    public struct Instance: Codable, Sendable {
        public var path: String
        public var state: String
        public var sopClass: String?
        public var sopInstanceUID: String?
        public var transferSyntax: String?
        public var sentAs: String?
        public var attempts: Int
        public var status: String?
        public var reason: String?
        public var bytes: Int
        /// What the last `ferry verify` found at the destination: verified or missing.
        public var verification: String?
        /// Storage commitment: requested, committed, or failed with the destination's reason.
        public var commitment: String?
        public var commitmentReason: String?
        /// What the C-FIND before a resend found (check_before_resend): found or absent.
        public var resendCheck: ResendCheck?
    }
    public struct Group: Codable, Sendable {
        public var sopClass: String
        public var transferSyntax: String
        public var states: [String: Int]
        public var bytes: Int
    }
    /// A pull job's source side: what was inventoried, retrieved, forwarded and verified, the
    /// last follow pass, and every listed instance that never came.
    public struct Source: Codable, Sendable {
        public struct Sync: Codable, Sendable {
            public var at: Date
            public var passes: Int
            public var added: Int
            public var changed: Int
        }
        public struct NotReceived: Codable, Sendable {
            public var study: String
            public var sopInstanceUID: String
        }
        /// Studies by state (inventoried, listed, retrieving, retrieved).
        public var studies: [String: Int]
        public var inventory: InventorySummary
        /// Instances sent from staging with the destination's success, and of those the ones
        /// the last `ferry verify` confirmed.
        public var forwarded: Int
        public var verified: Int
        public var lastSync: Sync?
        /// The first `notReceivedListed` of them (CSV lists them all).
        public var notReceived: [NotReceived]
        public var notReceivedCount: Int
    }
    public var states: [String: Int]
    public var groups: [Group]
    /// Present for a pull job.
    public var source: Source?
    /// Every instance, in the JSON form (written by `ReportRenderer.write` from the manifest a
    /// page at a time; `make` leaves it empty).
    public var instances: [Instance] = []

    /// The report's totals, from the manifest's counts: the instances themselves are read
    /// while the report is written.
    public static func make(manifest: Manifest) throws -> RunReport {
        var states: [String: Int] = [:]
        var groups: [String: Group] = [:]
        for g in try manifest.groupCounts() {
            states[g.state.rawValue, default: 0] += g.files
            let sop = g.sopClass.map(UIDRegistry.name(of:)) ?? "-",
                ts = g.transferSyntax.map(UIDRegistry.name(of:)) ?? "-"
            var group = groups[sop + "|" + ts] ?? Group(sopClass: sop, transferSyntax: ts, states: [:], bytes: 0)
            group.states[g.state.rawValue, default: 0] += g.files
            group.bytes += g.bytes
            groups[sop + "|" + ts] = group
        }
        let forwarded = (states[InstanceState.done.rawValue] ?? 0) + (states[InstanceState.doneWarning.rawValue] ?? 0)
        return RunReport(
            states: states,
            groups: groups.values.sorted { ($0.sopClass, $0.transferSyntax) < ($1.sopClass, $1.transferSyntax) },
            source: try Source.make(manifest: manifest, forwarded: forwarded))
    }
}

extension RunReport.Instance {
    init(_ r: InstanceRecord) {
        self.init(
            path: r.path, state: r.state.rawValue, sopClass: r.sopClassUID, sopInstanceUID: r.sopInstanceUID,
            transferSyntax: r.transferSyntaxUID, sentAs: r.sentTransferSyntaxUID, attempts: r.attempts,
            status: r.statusCode.map { String(format: "0x%04X %@", $0, r.statusName ?? "") },
            reason: r.error, bytes: r.size, verification: r.verification?.rawValue,
            commitment: r.commitment?.rawValue, commitmentReason: r.commitmentReason,
            resendCheck: r.resendCheck)
    }
}

extension RunReport.Source {
    /// Nil when the job's source is files (nothing inventoried).
    /// At most this many instances never received are listed (the count says how many there are).
    static let notReceivedListed = 10_000

    static func make(manifest: Manifest, forwarded: Int) throws -> Self? {
        let states = try manifest.sourceStudyStates()
        guard !states.isEmpty else { return nil }
        let inventory = try manifest.inventorySummary()
        return Self(
            studies: Dictionary(uniqueKeysWithValues: states.map { ($0.key.rawValue, $0.value) }),
            inventory: inventory,
            forwarded: forwarded,
            // Of a move-direct job, what `ferry verify` found of the instances the source moved.
            verified: try manifest.verifiedCount() + inventory.verifiedInstances,
            lastSync: try manifest.lastSync().map {
                Sync(at: $0.at, passes: $0.passes, added: $0.added, changed: $0.changed)
            },
            notReceived: try manifest.missingInstances(limit: notReceivedListed).map {
                NotReceived(study: $0.study, sopInstanceUID: $0.uid)
            }, notReceivedCount: try manifest.missingInstanceCount())
    }

    /// The lines of the table and Markdown forms.
    var lines: [String] {
        let i = inventory
        var lines = [
            "source: \(i.studies) studies inventoried (\(i.instances) instances by the source's counts\(i.uncounted > 0 ? ", \(i.uncounted) studies without a count" : "")): \(ReportRenderer.states(studies))",
            "  listed: \(i.listedInstances) instances in \(i.series) series (\(i.cappedSeries) capped by the source)",
            "  retrieved: \(i.receivedInstances) of the listed instances; forwarded: \(forwarded); verified: \(verified)",
        ]
        if let s = lastSync {
            lines.append("  last sync: \(s.at) (\(s.passes) passes): \(s.added) new studies, \(s.changed) changed")
        }
        if notReceivedCount > 0 { lines.append("  \(notReceivedCount) listed instances never received:") }
        for n in notReceived { lines.append("    not received: \(n.sopInstanceUID) (study \(n.study))") }
        if notReceivedCount > notReceived.count {
            lines.append("    ... \(notReceivedCount - notReceived.count) more")
        }
        return lines
    }
}

/// Renders reports as a table, JSON, CSV or Markdown.
public enum ReportRenderer {
    public static func render(_ report: PlanReport, format: ReportFormat) throws -> String {
        switch format {
        case .json: return try json(report)
        case .csv:
            var lines = ["section,sop_class,transfer_syntax,files,bytes,outcome_or_reason"]
            for g in report.groups {
                lines.append(
                    csvRow([
                        "group", g.sopClassName, g.transferSyntaxName, String(g.files), String(g.bytes),
                        g.outcome ?? "",
                    ]))
            }
            for u in report.unsendable { lines.append(csvRow(["unsendable", u.path, u.state, "", "", u.reason])) }
            return lines.joined(separator: "\n")
        case .md:
            var lines = ["| SOP class | transfer syntax | files | bytes | outcome |", "|---|---|---|---|---|"]
            for g in report.groups {
                lines.append(
                    "| \(g.sopClassName) | \(g.transferSyntaxName) | \(g.files) | \(g.bytes) | \(g.outcome ?? "") |")
            }
            if !report.unsendable.isEmpty {
                lines += ["", "| file | state | reason |", "|---|---|---|"]
                for u in report.unsendable { lines.append("| \(u.path) | \(u.state) | \(u.reason.escapedForLog()) |") }
            }
            return lines.joined(separator: "\n")
        case .table: return report.table()
        }
    }

    /// Writes the report, reading its instances from `manifest` a page at a time as they are
    /// written: `out` gets the text in pieces (each ends a line), nothing proportional to the
    /// job is held.
    public static func write(
        _ report: RunReport, instances manifest: Manifest, format: ReportFormat, to out: (String) -> Void
    ) throws {
        switch format {
        case .json:
            // The instances first, then the totals (keys sorted within each object).
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out("{\n  \"instances\" : [")
            var first = true
            try manifest.forEachInstance { r in
                out(
                    (first ? "\n    " : ",\n    ")
                        + String(decoding: try e.encode(RunReport.Instance(r)), as: UTF8.self))
                first = false
            }
            let totals = try json(Totals(states: report.states, groups: report.groups, source: report.source))
            out((first ? "],\n" : "\n  ],\n") + totals.dropFirst(2) + "\n")
        case .csv:
            out(
                "path,state,sop_class,sop_instance_uid,transfer_syntax,sent_as,attempts,status,reason,bytes,verification,commitment,commitment_reason,resend_check\n"
            )
            try manifest.forEachInstance { r in
                let i = RunReport.Instance(r)
                out(
                    csvRow([
                        i.path, i.state, i.sopClass ?? "", i.sopInstanceUID ?? "", i.transferSyntax ?? "",
                        i.sentAs ?? "",
                        String(i.attempts), i.status ?? "", i.reason ?? "", String(i.bytes), i.verification ?? "",
                        i.commitment ?? "", i.commitmentReason ?? "", i.resendCheck?.rawValue ?? "",
                    ]) + "\n")
            }
            // A pull's listed instances that never came: a row each, with no file.
            try manifest.forEachMissingInstance { study, uid in
                out(csvRow(["", "not-received", "", uid, "", "", "", "", "study \(study)", "", "", "", "", ""]) + "\n")
            }
        case .md:
            var lines = report.source.map { $0.lines.map { $0.escapedForLog() } + [""] } ?? []
            lines += ["| SOP class | transfer syntax | states | bytes |", "|---|---|---|---|"]
            for g in report.groups {
                lines.append("| \(g.sopClass) | \(g.transferSyntax) | \(states(g.states)) | \(g.bytes) |")
            }
            lines += [
                "", "| file | state | status | reason | verification | commitment |", "|---|---|---|---|---|---|",
            ]
            out(lines.joined(separator: "\n") + "\n")
            try manifest.forEachInstance { r in
                let i = RunReport.Instance(r)
                let commitment = [i.commitment, i.commitmentReason].compactMap { $0 }.joined(separator: ": ")
                out(
                    "| \(i.path) | \(i.state) | \(i.status ?? "") | \((i.reason ?? "").escapedForLog()) | \(i.verification ?? "") | \(commitment.escapedForLog()) |\n"
                )
            }
        case .table:
            var lines = ["states: \(states(report.states))"] + (report.source?.lines ?? [])
            lines += ["", "groups:"]
            for g in report.groups {
                lines.append("  \(g.sopClass) / \(g.transferSyntax): \(states(g.states)), \(g.bytes) bytes")
            }
            lines.append("")
            out(lines.joined(separator: "\n") + "\n")
            try manifest.forEachInstance(.notPlainlyDone) { r in
                let i = RunReport.Instance(r)
                if i.commitment == "failed" {
                    out("  not committed: \(i.path): \((i.commitmentReason ?? "").escapedForLog())\n")
                    return
                }
                out(
                    "  \(i.state)\(i.verification == "missing" ? " (missing at the destination)" : ""): \(i.path)\(i.status.map { ": \($0)" } ?? "")\(i.reason.map { ": \($0.escapedForLog())" } ?? "")\n"
                )
            }
        }
    }

    /// The report without its instances, as JSON writes it after them.
    private struct Totals: Encodable {
        var states: [String: Int]
        var groups: [RunReport.Group]
        var source: RunReport.Source?
    }

    static func states(_ s: [String: Int]) -> String {
        s.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func json<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    static func csvRow(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(",") || f.contains("\"") || f.contains("\n")
                ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }
        .joined(separator: ",")
    }
}
