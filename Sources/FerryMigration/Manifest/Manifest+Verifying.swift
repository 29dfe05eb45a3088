import GRDB

/// How a `ferry verify` ended.
public enum VerifyOutcome: String, Codable, Sendable, DatabaseValueConvertible {
    /// Every instance sent was found, and nothing else differs.
    case verified
    case differences
}

/// What a verification found beyond per-instance results.
public enum FindingKind: String, Codable, Sendable, DatabaseValueConvertible {
    /// An instance the destination holds that this job did not send.
    case unexpected
    /// A study or series whose count of instances differs.
    case count
    /// A series whose list the destination capped.
    case capped
}

/// One `ferry verify` against the destination.
public struct VerifyRunRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "verify_run"
    public var id: Int64?
    public var startedAt: Double
    public var endedAt: Double?
    public var destination: String
    public var sent = 0
    public var verified = 0
    public var missing = 0
    public var queries = 0
    public var outcome: VerifyOutcome?

    enum CodingKeys: String, CodingKey {
        case id, startedAt = "started_at", endedAt = "ended_at", destination, sent, verified, missing, queries, outcome
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What a verification found beyond per-instance results: an instance the destination holds
/// that this job did not send (`unexpected`), or a study or series whose count differs
/// (`count`), or a series whose list the destination capped (`capped`).
public struct VerifyFinding: Codable, Sendable, FetchableRecord, MutablePersistableRecord, Equatable {
    public static let databaseTableName = "verify_finding"
    public var id: Int64?
    public var run: Int64
    public var kind: FindingKind
    public var studyInstanceUID: String?
    public var seriesInstanceUID: String?
    public var sopInstanceUID: String?
    public var detail: String

    enum CodingKeys: String, CodingKey {
        case id, run, kind, studyInstanceUID = "study_instance_uid", seriesInstanceUID = "series_instance_uid"
        case sopInstanceUID = "sop_instance_uid", detail
    }

    public init(
        kind: FindingKind, study: String?, series: String? = nil, instance: String? = nil, detail: String
    ) {
        self.run = 0
        self.kind = kind
        self.studyInstanceUID = study
        self.seriesInstanceUID = series
        self.sopInstanceUID = instance
        self.detail = detail
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A sent instance as verification looks for it: under the UID the destination received.
public struct SentInstance: Sendable {
    public var id: Int64
    public var path: String
    public var study: String
    public var series: String
    public var uid: String
}

extension Manifest {
    /// Starts a verification: the instances to check, ordered by study and series, are written
    /// once into a temporary table that `verificationPage` reads a page at a time. Of a push
    /// job, the instances the destination answered for (stored, with or without a warning); of
    /// a `move-direct` pull, those the source moved (received: no file was sent, so the "path"
    /// is the SOP Instance UID, and the id the inventory row's). Returns how many there are.
    public func beginVerification(moved: Bool) async throws -> Int {
        try await db.write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS temp.verify_order")
            try db.execute(sql: "CREATE TEMP TABLE verify_order (seq INTEGER PRIMARY KEY, item INTEGER NOT NULL)")
            if moved {
                try db.execute(
                    sql: """
                        INSERT INTO temp.verify_order (item) SELECT rowid FROM source_instance WHERE received = 1
                        ORDER BY study_uid, series_uid, uid
                        """)
            } else {
                try db.execute(
                    sql: """
                        INSERT INTO temp.verify_order (item) SELECT id FROM instance
                        WHERE state IN (?, ?) AND study_instance_uid IS NOT NULL
                            AND series_instance_uid IS NOT NULL AND sop_instance_uid IS NOT NULL
                        ORDER BY study_instance_uid, series_instance_uid, id
                        """, arguments: [InstanceState.done, InstanceState.doneWarning])
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM temp.verify_order") ?? 0
        }
    }

    /// Up to `limit` instances of the verification begun by `beginVerification`, after
    /// position `after`, with their positions.
    public func verificationPage(
        moved: Bool, after: Int64, limit: Int
    ) async throws -> [(
        position: Int64, instance: SentInstance
    )] {
        try await db.read { db in
            let sql =
                moved
                ? """
                SELECT o.seq, i.rowid AS id, i.uid AS path, i.study_uid AS study, i.series_uid AS series, i.uid
                FROM temp.verify_order o JOIN source_instance i ON i.rowid = o.item
                WHERE o.seq > ? ORDER BY o.seq LIMIT ?
                """
                : """
                SELECT o.seq, i.id, i.path, i.study_instance_uid AS study, i.series_instance_uid AS series,
                    COALESCE(i.sent_sop_instance_uid, i.sop_instance_uid) AS uid
                FROM temp.verify_order o JOIN instance i ON i.id = o.item
                WHERE o.seq > ? ORDER BY o.seq LIMIT ?
                """
            return try Row.fetchAll(db, sql: sql, arguments: [after, limit]).map {
                (
                    $0["seq"],
                    SentInstance(
                        id: $0["id"], path: $0["path"], study: $0["study"], series: $0["series"], uid: $0["uid"])
                )
            }
        }
    }

    /// Each instance's result of a verification (on the inventory's rows when `moved`: a
    /// `move-direct` pull), written as its studies are done.
    public func recordVerificationResults(_ results: [Int64: Verification], moved: Bool) async throws {
        try await db.write { db in
            let stamp = now()
            for (id, result) in results {
                if moved {
                    try db.execute(
                        sql: "UPDATE source_instance SET verification = ? WHERE rowid = ?", arguments: [result, id])
                } else {
                    try db.execute(
                        sql: "UPDATE instance SET verification = ?, verified_at = ? WHERE id = ?",
                        arguments: [result, stamp, id])
                }
            }
        }
    }

    /// Records a verification's run and findings in one transaction.
    public func recordVerification(_ run: VerifyRunRecord, findings: [VerifyFinding]) async throws -> VerifyRunRecord {
        try await db.write { db in
            var run = run
            try run.insert(db)
            for var f in findings {
                f.run = run.id ?? 0
                try f.insert(db)
            }
            return run
        }
    }

    /// `ferry verify --resend`: the missing instances planned again for the next `ferry run`.
    public func replanMissing() async throws -> Int {
        try await db.write { db in
            try db.execute(
                sql: """
                    UPDATE instance SET state = ?, verification = NULL, error = 'resent: missing at the destination (ferry verify)', updated_at = ?
                    WHERE verification = ? AND state IN (?, ?)
                    """,
                arguments: [
                    InstanceState.planned, now(), Verification.missing, InstanceState.done, InstanceState.doneWarning,
                ])
            return db.changesCount
        }
    }

    /// `ferry verify --resend` of a `move-direct` pull: the missing instances listed as not
    /// received and their studies listed again, so the next `ferry run` moves them again.
    public func relistMissingMoved() async throws -> Int {
        try await db.write { db in
            try db.execute(
                sql: """
                    UPDATE source_study SET state = ?, retry_at = NULL, attempts = 0
                    WHERE state = ? AND uid IN (SELECT study_uid FROM source_instance WHERE verification = ?)
                    """, arguments: [SourceStudyState.listed, SourceStudyState.retrieved, Verification.missing])
            try db.execute(
                sql: "UPDATE source_instance SET received = 0, verification = NULL WHERE verification = ?",
                arguments: [Verification.missing])
            return db.changesCount
        }
    }

    /// The last verification, with its findings.
    public func lastVerification() throws -> (VerifyRunRecord, [VerifyFinding])? {
        try db.read { db in
            guard let run = try VerifyRunRecord.order(Column("id").desc).fetchOne(db) else { return nil }
            let findings = try VerifyFinding.filter(Column("run") == run.id).order(Column("id")).fetchAll(db)
            return (run, findings)
        }
    }
}
