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
        public var notReceived: [NotReceived]
    }
    public var states: [String: Int]
    public var groups: [Group]
    public var instances: [Instance]
    /// Present for a pull job.
    public var source: Source?

    public static func make(manifest: Manifest) throws -> RunReport {
        let rows = try manifest.instances()
        var states: [String: Int] = [:]
        var groups: [String: Group] = [:]
        var instances: [Instance] = []
        for r in rows {
            states[r.state.rawValue, default: 0] += 1
            let sop = r.sopClassUID.map(UIDRegistry.name(of:)) ?? "-",
                ts = r.transferSyntaxUID.map(UIDRegistry.name(of:)) ?? "-"
            var g = groups[sop + "|" + ts] ?? Group(sopClass: sop, transferSyntax: ts, states: [:], bytes: 0)
            g.states[r.state.rawValue, default: 0] += 1
            g.bytes += r.size
            groups[sop + "|" + ts] = g
            instances.append(
                Instance(
                    path: r.path, state: r.state.rawValue, sopClass: r.sopClassUID, sopInstanceUID: r.sopInstanceUID,
                    transferSyntax: r.transferSyntaxUID, sentAs: r.sentTransferSyntaxUID, attempts: r.attempts,
                    status: r.statusCode.map { String(format: "0x%04X %@", $0, r.statusName ?? "") },
                    reason: r.error, bytes: r.size, verification: r.verification?.rawValue,
                    commitment: r.commitment?.rawValue, commitmentReason: r.commitmentReason,
                    resendCheck: r.resendCheck))
        }
        return RunReport(
            states: states,
            groups: groups.values.sorted { ($0.sopClass, $0.transferSyntax) < ($1.sopClass, $1.transferSyntax) },
            instances: instances, source: try Source.make(manifest: manifest, instances: instances))
    }
}

extension RunReport.Source {
    /// Nil when the job's source is files (nothing inventoried).
    static func make(manifest: Manifest, instances: [RunReport.Instance]) throws -> Self? {
        let states = try manifest.sourceStudyStates()
        guard !states.isEmpty else { return nil }
        let inventory = try manifest.inventorySummary()
        return Self(
            studies: Dictionary(uniqueKeysWithValues: states.map { ($0.key.rawValue, $0.value) }),
            inventory: inventory,
            forwarded: instances.filter {
                $0.state == InstanceState.done.rawValue || $0.state == InstanceState.doneWarning.rawValue
            }.count,
            // Of a move-direct job, what `ferry verify` found of the instances the source moved.
            verified: instances.filter { $0.verification == Verification.verified.rawValue }.count
                + inventory.verifiedInstances,
            lastSync: try manifest.lastSync().map {
                Sync(at: $0.at, passes: $0.passes, added: $0.added, changed: $0.changed)
            },
            notReceived: try manifest.missingInstances(limit: Int.max).map {
                NotReceived(study: $0.study, sopInstanceUID: $0.uid)
            })
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
        if !notReceived.isEmpty { lines.append("  \(notReceived.count) listed instances never received:") }
        for n in notReceived { lines.append("    not received: \(n.sopInstanceUID) (study \(n.study))") }
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

    public static func render(_ report: RunReport, format: ReportFormat) throws -> String {
        switch format {
        case .json: return try json(report)
        case .csv:
            var lines = [
                "path,state,sop_class,sop_instance_uid,transfer_syntax,sent_as,attempts,status,reason,bytes,verification,commitment,commitment_reason,resend_check"
            ]
            for i in report.instances {
                lines.append(
                    csvRow([
                        i.path, i.state, i.sopClass ?? "", i.sopInstanceUID ?? "", i.transferSyntax ?? "",
                        i.sentAs ?? "",
                        String(i.attempts), i.status ?? "", i.reason ?? "", String(i.bytes), i.verification ?? "",
                        i.commitment ?? "", i.commitmentReason ?? "", i.resendCheck?.rawValue ?? "",
                    ]))
            }
            // A pull's listed instances that never came: a row each, with no file.
            for n in report.source?.notReceived ?? [] {
                lines.append(
                    csvRow([
                        "", "not-received", "", n.sopInstanceUID, "", "", "", "", "study \(n.study)", "", "", "", "",
                        "",
                    ]))
            }
            return lines.joined(separator: "\n")
        case .md:
            var lines = report.source.map { $0.lines.map { $0.escapedForLog() } + [""] } ?? []
            lines += ["| SOP class | transfer syntax | states | bytes |", "|---|---|---|---|"]
            for g in report.groups {
                lines.append("| \(g.sopClass) | \(g.transferSyntax) | \(states(g.states)) | \(g.bytes) |")
            }
            lines += [
                "", "| file | state | status | reason | verification | commitment |", "|---|---|---|---|---|---|",
            ]
            for i in report.instances {
                let commitment = [i.commitment, i.commitmentReason].compactMap { $0 }.joined(separator: ": ")
                lines.append(
                    "| \(i.path) | \(i.state) | \(i.status ?? "") | \((i.reason ?? "").escapedForLog()) | \(i.verification ?? "") | \(commitment.escapedForLog()) |"
                )
            }
            return lines.joined(separator: "\n")
        case .table:
            var lines = ["states: \(states(report.states))"] + (report.source?.lines ?? [])
            lines += ["", "groups:"]
            for g in report.groups {
                lines.append("  \(g.sopClass) / \(g.transferSyntax): \(states(g.states)), \(g.bytes) bytes")
            }
            lines.append("")
            for i in report.instances where i.state != "done" || i.verification == "missing" || i.commitment == "failed"
            {
                if i.commitment == "failed" {
                    lines.append("  not committed: \(i.path): \((i.commitmentReason ?? "").escapedForLog())")
                    continue
                }
                lines.append(
                    "  \(i.state)\(i.verification == "missing" ? " (missing at the destination)" : ""): \(i.path)\(i.status.map { ": \($0)" } ?? "")\(i.reason.map { ": \($0.escapedForLog())" } ?? "")"
                )
            }
            return lines.joined(separator: "\n")
        }
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
