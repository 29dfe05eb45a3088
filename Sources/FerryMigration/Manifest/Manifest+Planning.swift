import GRDB

/// The manifest's side of planning: what is known of each path, the scanned files, the
/// resolution of duplicate SOP Instance UIDs, shards and probes.
extension Manifest {
    /// Size and mtime of every path planned before.
    public func knownFiles() throws -> [String: (size: Int, mtime: Double)] {
        try db.read { db in
            var map: [String: (Int, Double)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT path, size, mtime FROM instance") {
                map[row["path"]] = (row["size"], row["mtime"])
            }
            return map
        }
    }

    /// Inserts scanned files (`replaces`: a file planned before under the same path, whose
    /// row is replaced), then resolves duplicate SOP Instance UIDs by `rule`; returns how many
    /// files became `conflict`.
    public func plan(_ records: [(record: InstanceRecord, replaces: Bool)], conflicts rule: ConflictRule) throws -> Int
    {
        try db.write { db in
            for (var record, replaces) in records {
                if replaces {
                    try InstanceRecord.filter(InstanceRecord.CodingKeys.path == record.path).deleteAll(db)
                }
                try record.insert(db)
            }
            return try Self.resolveConflicts(db, rule)
        }
    }

    /// Two files with one SOP Instance UID: keep one by the rule (first path, newest mtime, or
    /// none), mark the others `conflict`. A copy already sent wins.
    private static func resolveConflicts(_ db: Database, _ rule: ConflictRule) throws -> Int {
        let excluded: [InstanceState] = [.failed, .skipped]
        let duplicated = try String.fetchAll(
            db,
            sql: """
                SELECT sop_instance_uid FROM instance
                WHERE sop_instance_uid IS NOT NULL AND state NOT IN (?, ?)
                GROUP BY sop_instance_uid HAVING COUNT(*) > 1
                """, arguments: [InstanceState.failed, InstanceState.skipped])
        var marked = 0
        for uid in duplicated {
            let rows = try InstanceRecord.filter(InstanceRecord.CodingKeys.sopInstanceUID == uid)
                .filter(!excluded.contains(InstanceRecord.CodingKeys.state)).fetchAll(db)
            let sent = rows.first { $0.state == .done || $0.state == .doneWarning }
            let keep: InstanceRecord? =
                sent
                ?? {
                    switch rule {
                    case .newest: return rows.max { $0.mtime < $1.mtime }
                    case .none: return nil
                    case .first: return rows.min { $0.path < $1.path }
                    }
                }()
            // Under `none` every copy not sent is a conflict, each counted once.
            for var r in rows where r.id != keep?.id && r.state != .conflict {
                r.state = .conflict
                r.error =
                    keep.map { "same SOP Instance UID as \($0.path) (conflicts: \(rule.rawValue))" }
                    ?? "SOP Instance UID held by \(rows.count) files (conflicts: none)"
                r.reasonKind = .conflict
                r.updatedAt = now()
                try r.update(db)
                marked += 1
            }
        }
        return marked
    }

    /// Marks `skipped`, with `reason` of `kind`, the planned files whose study `keep` refuses.
    public func skipPlanned(reason: String, kind: ReasonKind, keep: (String?) -> Bool) throws {
        try db.write { db in
            let planned = try InstanceRecord.filter(InstanceRecord.CodingKeys.state == InstanceState.planned)
                .fetchAll(db)
            for var r in planned where !keep(r.studyInstanceUID) {
                r.state = .skipped
                r.error = reason
                r.reasonKind = kind
                try r.update(db)
            }
        }
    }

    /// Plans again the files skipped for a reason of `kind`.
    public func unskip(kind: ReasonKind) throws {
        try db.write { db in try Self.replan(db, from: .skipped, kind: kind) }
    }

    /// Files in `state` for a reason of `kind` are planned again, reason cleared (a shard's
    /// skips, a stored probe's failures).
    static func replan(_ db: Database, from state: InstanceState, kind: ReasonKind) throws {
        let k = InstanceRecord.CodingKeys.self
        try InstanceRecord.filter(k.state == state && k.reasonKind == kind)
            .updateAll(
                db, k.state.set(to: InstanceState.planned), k.error.set(to: nil), k.reasonKind.set(to: nil))
    }

    /// The answers of a new probe replace the stored ones.
    public func replaceProbe(_ records: [ProbeRecord]) async throws {
        try await db.write { db in
            try ProbeRecord.deleteAll(db)
            for r in records { try r.insert(db) }
        }
    }
}
