import FerryDICOM
import FerryServices
import GRDB
import Glibc

/// The states of an instance in the manifest.
public enum InstanceState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case planned, sending, done, doneWarning = "done_warning", failed, skipped, conflict

    public var isTerminal: Bool {
        self == .done || self == .doneWarning || self == .failed || self == .skipped || self == .conflict
    }
}

/// What `ferry verify` found of a sent instance at the destination.
public enum Verification: String, Codable, Sendable, DatabaseValueConvertible {
    case verified, missing
}

/// Why a file is failed, skipped, in conflict or planned again: a closed set stored as such
/// (column `reason_kind`), beside the message for people (column `error`). Whatever Ferry
/// decides from a reason it decides from this, never from the message.
public enum ReasonKind: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// The destination answered a failure status.
    case refused
    /// The association failed before the response: the outcome is unknown.
    case association
    /// No presentation context the destination accepted can carry the file.
    case noContext = "no_context"
    /// The file could not be read.
    case unreadable
    /// Re-encoding it for the destination failed.
    case preparation
    /// Runs ended (the process died) while decoding it.
    case decoderCrash = "decoder_crash"
    /// A stored probe of the destination shows it cannot be sent.
    case probe
    /// Its study belongs to another shard.
    case shard
    /// Its SOP Instance UID is held by other files.
    case conflict
    /// No association to the destination could be opened.
    case unreachable
    /// A run ended during its store: planned again.
    case interrupted
    /// Anything else (the message says what).
    case other

    /// The kind of a store's failure, from its status or its error's code.
    init?(_ outcome: StoreOutcome) {
        if let status = outcome.status {
            guard !status.isSuccessOrWarning else { return nil }
            self = .refused
            return
        }
        switch outcome.error?.code {
        case nil: return nil
        case .association?: self = .association
        case .noContext?: self = .noContext
        case .unreadableFile?: self = .unreadable
        case .preparation?: self = .preparation
        case .unreachable?: self = .unreachable
        default: self = .other
        }
    }
}

/// What the C-FIND before a resend found (`transfer.check_before_resend`).
public enum ResendCheck: String, Codable, Sendable, DatabaseValueConvertible {
    /// Its last store had an unknown outcome: the destination is asked before it is sent again.
    case pending
    /// The destination holds the instance: recorded as stored, not sent again.
    case found
    /// The destination does not hold it: sent again.
    case absent
}

/// Where storage commitment stands for a sent instance.
public enum CommitmentState: String, Codable, Sendable, DatabaseValueConvertible {
    case requested, committed, failed
}

/// One file of the job, as the manifest records it.
public struct InstanceRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord, Equatable {
    public static let databaseTableName = "instance"
    public var id: Int64?
    public var path: String
    public var size: Int
    public var mtime: Double
    public var sopClassUID: String?
    public var sopInstanceUID: String?
    public var transferSyntaxUID: String?
    public var patientID: String?
    public var studyInstanceUID: String?
    public var seriesInstanceUID: String?
    /// Study Date (YYYYMMDD) and Accession Number, for `transfer.order` and `first_accessions`.
    public var studyDate: String?
    public var accessionNumber: String?
    public var instanceNumber: Int?
    public var dataSetOffset: Int
    public var pixelDataOffset: Int?
    public var state: InstanceState
    public var attempts: Int = 0
    public var statusCode: Int?
    public var statusName: String?
    public var error: String?
    /// Why, as a closed set (for failed, skipped, conflict, and planned again after a failure).
    public var reasonKind: ReasonKind?
    public var sentTransferSyntaxUID: String?
    public var associationID: Int?
    public var bytesSent: Int?
    /// The SOP Instance UID the destination received, when a lossy re-encoding gave the
    /// instance a new one (the old-to-new mapping).
    public var sentSOPInstanceUID: String?
    /// A decoder is working on the file (committed before it starts): a run that dies with
    /// this set died decoding it.
    public var decoding = false
    /// Runs in a row that ended while decoding this file.
    public var decodeAttempts = 0
    /// The data set's encoding has a quirk the reader tolerates: it is sent re-encoded.
    public var mustRewrite = false
    /// What the last `ferry verify` found at the destination: verified or missing (nil: not checked).
    public var verification: Verification?
    public var verifiedAt: Double?
    /// Storage commitment: requested (a transaction outstanding), committed or failed.
    public var commitment: CommitmentState?
    /// Why the destination did not commit it (its Failure Reason), or why the request failed.
    public var commitmentReason: String?
    /// What the C-FIND before a resend found (`transfer.check_before_resend`): found or absent.
    public var resendCheck: ResendCheck?
    public var plannedAt: Double
    public var updatedAt: Double

    enum CodingKeys: String, CodingKey, ColumnExpression {
        case id, path, size, mtime, sopClassUID = "sop_class_uid", sopInstanceUID = "sop_instance_uid"
        case transferSyntaxUID = "transfer_syntax_uid", patientID = "patient_id", studyInstanceUID =
            "study_instance_uid"
        case studyDate = "study_date", accessionNumber = "accession_number"
        case seriesInstanceUID = "series_instance_uid", instanceNumber = "instance_number", dataSetOffset =
            "data_set_offset"
        case pixelDataOffset = "pixel_data_offset"
        case state, attempts, statusCode = "status_code", statusName = "status_name", error
        case reasonKind = "reason_kind"
        case sentTransferSyntaxUID = "sent_transfer_syntax_uid", associationID = "association_id", bytesSent =
            "bytes_sent"
        case sentSOPInstanceUID = "sent_sop_instance_uid"
        case decoding, decodeAttempts = "decode_attempts"
        case mustRewrite = "must_rewrite"
        case verification, verifiedAt = "verified_at"
        case commitment, commitmentReason = "commitment_reason", resendCheck = "resend_check"
        case plannedAt = "planned_at", updatedAt = "updated_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One `ferry run`.
public struct RunRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "run"
    public var id: Int64?
    public var startedAt: Double
    public var endedAt: Double?
    public var settings: String
    public var done: Int = 0
    public var failed: Int = 0
    public var bytes: Int = 0
    public var outcome: RunOutcome?

    enum CodingKeys: String, CodingKey {
        case id, startedAt = "started_at", endedAt = "ended_at", settings, done, failed, bytes, outcome
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// What a `--probe` learned about one proposed context.
public struct ProbeRecord: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "probe"
    public var sopClassUID: String
    public var transferSyntaxUID: String
    public var accepted: Bool
    public var reason: String?
    public var probedAt: Double
    /// CALLED_AE@HOST:PORT the answer came from: a probe of another destination is not reused.
    public var destination: String?

    enum CodingKeys: String, CodingKey {
        case sopClassUID = "sop_class_uid", transferSyntaxUID = "transfer_syntax_uid", accepted, reason, probedAt =
            "probed_at", destination
    }
}

/// The checkpointed manifest of one job: SQLite in WAL mode, schema versioned by migrations,
/// and an exclusive lock so that two runs never share it.
public final class Manifest: Sendable {
    public let path: String
    /// Only the Manifest folder speaks SQL; the rest of Ferry uses its methods.
    let db: DatabaseQueue
    private let lockFD: Int32

    /// A manifest SQLite cannot read, or whose pages fail its integrity check: refused before
    /// anything (a migration, a run) writes to it.
    static func damaged(_ path: String, _ detail: String, underlying: DatabaseError? = nil) -> MigrationError {
        MigrationError(
            .manifestDamaged,
            "manifest \(path) is damaged (\(detail)); it was left as it is: restore it from a copy, or plan the job into a new manifest",
            path: path, underlying: underlying)
    }

    /// Opens (creating if needed) the manifest, checked (PRAGMA quick_check) before its schema
    /// is brought up to date. With `exclusive`, takes the job's lock or throws `.manifestLocked` at once.
    /// `readOnly` (status, report): the manifest must exist and be of the current schema; it is
    /// neither created, nor migrated, nor written.
    public init(path: String, exclusive: Bool, readOnly: Bool = false) throws {
        self.path = path
        if readOnly {
            guard access(path, R_OK) == 0 else {
                throw MigrationError(
                    .manifestMissing, "no manifest at \(path) (plan or run the job first)", path: path)
            }
        } else if let slash = path.lastIndex(of: "/") {
            _ = mkdir(String(path[..<slash]), 0o755)
        }
        if exclusive {
            let fd = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw MigrationError.invalidJob("cannot create \(path).lock: \(String(cString: strerror(errno)))")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                throw MigrationError(
                    .manifestLocked,
                    "manifest \(path) is in use by another ferry run (lock held on \(path).lock)", path: path)
            }
            lockFD = fd
        } else {
            lockFD = -1
        }
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.readonly = readOnly
        if !readOnly {
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                // Each commit is durable to the OS (survives a killed process) and cheap.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
        }
        // Checked on a local queue: a throw leaves `db` unset, so deinit does not run and the
        // lock is released here.
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path, configuration: config)
            let problems = try queue.read { try String.fetchAll($0, sql: "PRAGMA quick_check(5)") }
            guard problems == ["ok"] else {
                throw Self.damaged(path, problems.joined(separator: "; "))
            }
        } catch let error as DatabaseError
            where error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT
        {
            if lockFD >= 0 { close(lockFD) }
            throw Self.damaged(path, "SQLite: \(error.message ?? "\(error.resultCode)")", underlying: error)
        } catch {
            if lockFD >= 0 { close(lockFD) }
            throw error
        }
        db = queue
        if readOnly {
            guard try queue.read({ try Self.migrator.hasCompletedMigrations($0) }) else {
                throw MigrationError(
                    .manifestOutdated,
                    "manifest \(path) has an older schema: `ferry plan` or `ferry run` brings it up to date", path: path
                )
            }
        } else {
            try Self.migrate(queue, path: path)
        }
    }

    /// Brings the schema up to date. Two processes opening an older manifest at once (a run
    /// and `ferry verify`, or a test's reader) may both start the same migration: the second
    /// then fails on what the first added, and reads the schema again once the first is done.
    static func migrate(_ queue: DatabaseQueue, path: String) throws {
        for attempt in 1...50 {
            do {
                try migrator.migrate(queue)
                return
            } catch let error as DatabaseError where error.resultCode == .SQLITE_ERROR && attempt < 50 {
                if try queue.read({ try migrator.hasCompletedMigrations($0) }) { return }
                usleep(100_000)
            }
        }
    }

    deinit {
        if lockFD >= 0 { close(lockFD) }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.create(table: "instance") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("path", .text).notNull().unique()
                t.column("size", .integer).notNull()
                t.column("mtime", .double).notNull()
                t.column("sop_class_uid", .text)
                t.column("sop_instance_uid", .text)
                t.column("transfer_syntax_uid", .text)
                t.column("patient_id", .text)
                t.column("study_instance_uid", .text)
                t.column("series_instance_uid", .text)
                t.column("instance_number", .integer)
                t.column("data_set_offset", .integer).notNull()
                t.column("pixel_data_offset", .integer)
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("status_code", .integer)
                t.column("status_name", .text)
                t.column("error", .text)
                t.column("sent_transfer_syntax_uid", .text)
                t.column("association_id", .integer)
                t.column("bytes_sent", .integer)
                t.column("planned_at", .double).notNull()
                t.column("updated_at", .double).notNull()
            }
            try db.create(index: "instance_state", on: "instance", columns: ["state"])
            try db.create(index: "instance_sop", on: "instance", columns: ["sop_instance_uid"])
            try db.create(table: "run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started_at", .double).notNull()
                t.column("ended_at", .double)
                t.column("settings", .text).notNull()
                t.column("done", .integer).notNull().defaults(to: 0)
                t.column("failed", .integer).notNull().defaults(to: 0)
                t.column("bytes", .integer).notNull().defaults(to: 0)
                t.column("outcome", .text)
            }
            try db.create(table: "probe") { t in
                t.column("sop_class_uid", .text).notNull()
                t.column("transfer_syntax_uid", .text).notNull()
                t.column("accepted", .boolean).notNull()
                t.column("reason", .text)
                t.column("probed_at", .double).notNull()
                t.primaryKey(["sop_class_uid", "transfer_syntax_uid"])
            }
        }
        m.registerMigration("v2: probe destination") { db in
            try db.alter(table: "probe") { t in t.add(column: "destination", .text) }
        }
        m.registerMigration("v3: new instance UIDs of lossy re-encodings") { db in
            try db.alter(table: "instance") { t in t.add(column: "sent_sop_instance_uid", .text) }
        }
        m.registerMigration("v4: files being decoded") { db in
            try db.alter(table: "instance") { t in
                t.add(column: "decoding", .boolean).notNull().defaults(to: false)
                t.add(column: "decode_attempts", .integer).notNull().defaults(to: 0)
            }
        }
        m.registerMigration("v5: data sets sent re-encoded") { db in
            try db.alter(table: "instance") { t in
                t.add(column: "must_rewrite", .boolean).notNull().defaults(to: false)
            }
        }
        m.registerMigration("v6: verification against the destination") { db in
            try db.alter(table: "instance") { t in
                t.add(column: "verification", .text)
                t.add(column: "verified_at", .double)
            }
            try db.create(table: "verify_run") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("started_at", .double).notNull()
                t.column("ended_at", .double)
                t.column("destination", .text).notNull()
                t.column("sent", .integer).notNull().defaults(to: 0)
                t.column("verified", .integer).notNull().defaults(to: 0)
                t.column("missing", .integer).notNull().defaults(to: 0)
                t.column("queries", .integer).notNull().defaults(to: 0)
                t.column("outcome", .text)
            }
            try db.create(table: "verify_finding") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run", .integer).notNull().references("verify_run")
                t.column("kind", .text).notNull()
                t.column("study_instance_uid", .text)
                t.column("series_instance_uid", .text)
                t.column("sop_instance_uid", .text)
                t.column("detail", .text).notNull()
            }
        }
        m.registerMigration("v7: storage commitment, checks before a resend") { db in
            try db.alter(table: "instance") { t in
                t.add(column: "commitment", .text)
                t.add(column: "commitment_uid", .text)
                t.add(column: "commitment_reason", .text)
                t.add(column: "committed_at", .double)
                t.add(column: "resend_check", .text)
            }
            try db.create(index: "instance_commitment", on: "instance", columns: ["commitment"])
            try db.create(table: "commitment_transaction") { t in
                t.primaryKey("uid", .text)
                t.column("requested_at", .double).notNull()
                t.column("instances", .integer).notNull()
                t.column("state", .text).notNull()
                t.column("answered_at", .double)
                t.column("committed", .integer).notNull().defaults(to: 0)
                t.column("failed", .integer).notNull().defaults(to: 0)
                t.column("detail", .text)
            }
        }
        m.registerMigration("v8: study dates for the send order") { db in
            try db.alter(table: "instance") { t in t.add(column: "study_date", .text) }
        }
        m.registerMigration("v9: accession numbers for the send order") { db in
            try db.alter(table: "instance") { t in t.add(column: "accession_number", .text) }
        }
        m.registerMigration("v10: reasons as a closed set") { db in
            try db.alter(table: "instance") { t in t.add(column: "reason_kind", .text) }
            try classifyEarlierReasons(db)
        }
        m.registerMigration("v11: the inventory of a PACS source") { db in
            try db.create(table: "source_study") { t in
                t.column("uid", .text).primaryKey()
                t.column("patient_id", .text).notNull()
                t.column("study_date", .text).notNull()
                t.column("modalities", .text).notNull()
                // NumberOfStudyRelatedInstances as the source gave it; null when it gave none.
                t.column("source_instances", .integer)
                t.column("state", .text).notNull()
                t.column("inventoried_at", .double).notNull()
                // Retrieves tried, and the last one's sub-operation counts and listed
                // instances that did not come.
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("completed", .integer)
                t.column("failed", .integer)
                t.column("warning", .integer)
                t.column("missing", .integer)
            }
            try db.create(index: "source_study_state", on: "source_study", columns: ["state"])
            try db.create(table: "source_series") { t in
                t.column("uid", .text).primaryKey()
                t.column("study_uid", .text).notNull()
                t.column("modality", .text).notNull()
                t.column("source_instances", .integer)
                // The source capped its instance list: the retrieve learns the rest.
                t.column("capped", .boolean).notNull()
            }
            try db.create(index: "source_series_study", on: "source_series", columns: ["study_uid"])
            try db.create(table: "source_instance") { t in
                t.column("uid", .text).primaryKey()
                t.column("study_uid", .text).notNull()
                t.column("series_uid", .text).notNull()
                t.column("sop_class", .text).notNull()
            }
            try db.create(index: "source_instance_study", on: "source_instance", columns: ["study_uid"])
        }
        m.registerMigration("v12: pull retries on a back-off, instances received") { db in
            // When a study whose retrieve fell short may be retrieved again (epoch seconds).
            try db.alter(table: "source_study") { t in t.add(column: "retry_at", .double) }
            // Whether the last retrieve of its study delivered the instance (null: not yet
            // retrieved): what never came is reported by UID.
            try db.alter(table: "source_instance") { t in t.add(column: "received", .boolean) }
        }
        m.registerMigration("v13: follow passes of a pull") { db in
            try db.create(table: "source_sync") { t in
                t.column("at", .double).notNull()
                t.column("added", .integer).notNull()
                t.column("changed", .integer).notNull()
            }
        }
        m.registerMigration("v14: the syntax a source holds an instance in") { db in
            // Available Transfer Syntax UID where the source answered it (null: not said).
            try db.alter(table: "source_instance") { t in t.add(column: "transfer_syntax", .text) }
        }
        m.registerMigration("v15: verification of what a source moved to the destination") { db in
            // move-direct: what `ferry verify` found of the instance at the destination.
            try db.alter(table: "source_instance") { t in t.add(column: "verification", .text) }
        }
        return m
    }

    /// Manifests of schema v9 and before kept reasons as text only: each is classified once
    /// here, from the texts those versions wrote (the only place a message is read back).
    static func classifyEarlierReasons(_ db: Database) throws {
        let rules: [(ReasonKind, String)] = [
            (.shard, "state = 'skipped' AND error LIKE 'study belongs to another shard than %'"),
            (.probe, "state = 'failed' AND error LIKE 'probe of %'"),
            (.decoderCrash, "state = 'failed' AND error LIKE 'the process ended while decoding this file%'"),
            (.interrupted, "state = 'planned' AND error LIKE 'resent: the previous run ended%'"),
            (.conflict, "state = 'conflict'"),
            (.refused, "state IN ('failed', 'planned') AND status_code IS NOT NULL AND error IS NOT NULL"),
            (.other, "state IN ('failed', 'skipped', 'planned') AND error IS NOT NULL"),
        ]
        for (kind, condition) in rules {
            try db.execute(
                sql: "UPDATE instance SET reason_kind = ? WHERE reason_kind IS NULL AND \(condition)", arguments: [kind]
            )
        }
    }

    // MARK: Queries

    public func counts() throws -> [InstanceState: Int] {
        try db.read { db in
            var out: [InstanceState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM instance GROUP BY state") {
                if let s = InstanceState(rawValue: row["state"]) { out[s] = row["n"] }
            }
            return out
        }
    }

    /// The instances in `states` (all: nil), in id order, at most `limit`.
    public func instances(in states: [InstanceState]? = nil, limit: Int? = nil) throws -> [InstanceRecord] {
        try db.read { db in
            var request = InstanceRecord.all()
            if let states { request = request.filter(states.map(\.rawValue).contains(InstanceRecord.CodingKeys.state)) }
            request = request.order(InstanceRecord.CodingKeys.id)
            if let limit { request = request.limit(limit) }
            return try request.fetchAll(db)
        }
    }

    /// Which instances `forEachInstance` reads.
    public enum InstanceFilter: Sendable {
        case all
        case states([InstanceState])
        /// Those a report lists in its table: not done, missing at the destination, or not committed.
        case notPlainlyDone
    }

    /// Calls `body` with every instance `filter` selects, in id order, read a page at a time
    /// (keyset pagination, each page its own read): nothing proportional to the job is held,
    /// and a writer waits at most for one page.
    public func forEachInstance(
        _ filter: InstanceFilter = .all, pageSize: Int = 1000, _ body: (InstanceRecord) throws -> Void
    ) throws {
        let k = InstanceRecord.CodingKeys.self
        var request = InstanceRecord.all()
        switch filter {
        case .all: break
        case .states(let states): request = request.filter(states.map(\.rawValue).contains(k.state))
        case .notPlainlyDone:
            request = request.filter(
                k.state != InstanceState.done || k.verification == Verification.missing
                    || k.commitment == CommitmentState.failed)
        }
        var after: Int64 = 0
        while true {
            let page = try db.read { db in
                try request.filter(k.id > after).order(k.id).limit(pageSize).fetchAll(db)
            }
            for r in page { try body(r) }
            guard page.count == pageSize, let last = page.last?.id else { return }
            after = last
        }
    }

    /// Instances and bytes by SOP class, transfer syntax and state.
    public func groupCounts() throws -> [(
        sopClass: String?, transferSyntax: String?, state: InstanceState, files: Int, bytes: Int
    )] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sop_class_uid AS c, transfer_syntax_uid AS t, state, COUNT(*) AS n, SUM(size) AS bytes
                    FROM instance GROUP BY c, t, state
                    """
            ).compactMap { row in
                guard let state = InstanceState(rawValue: row["state"]) else { return nil }
                return (row["c"], row["t"], state, row["n"], row["bytes"])
            }
        }
    }

    /// How many instances `ferry verify` found at the destination.
    public func verifiedCount() throws -> Int {
        try db.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM instance WHERE verification = ?", arguments: [Verification.verified])
                ?? 0
        }
    }

    public func runs() throws -> [RunRecord] {
        try db.read { db in try RunRecord.order(Column("id")).fetchAll(db) }
    }

    public func probes() throws -> [ProbeRecord] {
        try db.read { db in try ProbeRecord.fetchAll(db) }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
