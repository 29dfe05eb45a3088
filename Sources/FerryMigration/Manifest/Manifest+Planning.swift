import GRDB

/// The manifest's side of planning: what is known of each path, the scanned files, the
/// resolution of duplicate SOP Instance UIDs, shards and probes.
extension Manifest {
    /// Size and mtime of those of `paths` planned before.
    public func knownFiles(_ paths: [String]) throws -> [String: (size: Int, mtime: Double)] {
        try db.read { db in
            var map: [String: (Int, Double)] = [:]
            // Bound parameters per statement stay far below SQLite's limit.
            for start in stride(from: 0, to: paths.count, by: 500) {
                let chunk = Array(paths[start..<min(start + 500, paths.count)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT path, size, mtime FROM instance WHERE path IN (\(marks))",
                    arguments: StatementArguments(chunk))
                while let row = try rows.next() { map[row["path"]] = (row["size"], row["mtime"]) }
            }
            return map
        }
    }

    /// Inserts scanned files in one transaction (`replaces`: a file planned before under the
    /// same path, whose row is replaced). Through one prepared statement, not the record's
    /// Codable encoding: planning a million files spent most of its time there.
    public func plan(_ records: [(record: InstanceRecord, replaces: Bool)]) throws {
        try db.write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM instance WHERE path = ?")
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO instance (path, size, mtime, sop_class_uid, sop_instance_uid, transfer_syntax_uid,
                        patient_id, study_instance_uid, series_instance_uid, study_date, accession_number,
                        instance_number, data_set_offset, pixel_data_offset, must_rewrite, state, error, reason_kind,
                        planned_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for (r, replaces) in records {
                if replaces { try delete.execute(arguments: [r.path]) }
                try insert.execute(arguments: [
                    r.path, r.size, r.mtime, r.sopClassUID, r.sopInstanceUID, r.transferSyntaxUID, r.patientID,
                    r.studyInstanceUID, r.seriesInstanceUID, r.studyDate, r.accessionNumber, r.instanceNumber,
                    r.dataSetOffset, r.pixelDataOffset, r.mustRewrite, r.state, r.error, r.reasonKind, r.plannedAt,
                    r.updatedAt,
                ])
            }
        }
    }

    /// Resolves duplicate SOP Instance UIDs by `rule`; returns how many files became `conflict`.
    public func resolveConflicts(_ rule: ConflictRule) throws -> Int {
        try db.write { db in try Self.resolveConflicts(db, rule) }
    }

    /// Two files with one SOP Instance UID: keep one by the rule (first path, newest mtime, or
    /// none), mark the others `conflict`. A copy already sent wins.
    private static func resolveConflicts(_ db: Database, _ rule: ConflictRule) throws -> Int {
        let excluded: [InstanceState] = [.failed, .skipped]
        // Duplicates found on the UID index alone (no row read per file: this runs on every
        // plan); the failed and skipped copies are set aside below.
        let duplicated = try String.fetchAll(
            db,
            sql: """
                SELECT sop_instance_uid FROM instance WHERE sop_instance_uid IS NOT NULL
                GROUP BY sop_instance_uid HAVING COUNT(*) > 1
                """)
        var marked = 0
        for uid in duplicated {
            let rows = try InstanceRecord.filter(InstanceRecord.CodingKeys.sopInstanceUID == uid)
                .filter(!excluded.contains(InstanceRecord.CodingKeys.state)).fetchAll(db)
            guard rows.count > 1 else { continue }
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

    /// Marks `skipped`, with `reason` of `kind`, the planned files whose study `keep` refuses;
    /// read and written a page at a time.
    public func skipPlanned(reason: String, kind: ReasonKind, keep: (String?) -> Bool) throws {
        let k = InstanceRecord.CodingKeys.self
        var after: Int64 = 0
        while true {
            let page = try db.read { db in
                try InstanceRecord.filter(k.state == InstanceState.planned && k.id > after).order(k.id).limit(1000)
                    .fetchAll(db)
            }
            let skipped = page.filter { !keep($0.studyInstanceUID) }
            if !skipped.isEmpty {
                try db.write { db in
                    for var r in skipped {
                        r.state = .skipped
                        r.error = reason
                        r.reasonKind = kind
                        try r.update(db)
                    }
                }
            }
            guard page.count == 1000, let last = page.last?.id else { return }
            after = last
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

    /// The files still to send (planned or sending), by SOP class and transfer syntax: how
    /// many, their bytes, and the first of them, which stands for the group; in order of the
    /// groups' first files.
    public func groupsToSend() throws -> [(
        sopClass: String?, transferSyntax: String?, files: Int, bytes: Int, sample: InstanceRecord?
    )] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sop_class_uid AS c, transfer_syntax_uid AS t, COUNT(*) AS n, SUM(size) AS bytes,
                           MIN(id) AS first
                    FROM instance WHERE state IN (?, ?) GROUP BY c, t ORDER BY first
                    """, arguments: [InstanceState.planned, InstanceState.sending]
            ).map { row in
                let first: Int64 = row["first"]
                return (row["c"], row["t"], row["n"], row["bytes"], try InstanceRecord.fetchOne(db, key: first))
            }
        }
    }

    /// The answers of a new probe replace the stored ones.
    public func replaceProbe(_ records: [ProbeRecord]) async throws {
        try await db.write { db in
            try ProbeRecord.deleteAll(db)
            for r in records { try r.insert(db) }
        }
    }
}
