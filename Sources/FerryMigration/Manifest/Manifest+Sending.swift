import FerryServices
import GRDB

/// The manifest's side of `ferry run`: runs, the reset of files left in flight, the queue of
/// planned files, and the checkpoints of the send loop.
extension Manifest {
    /// Starts a run: a file a dead run was decoding counts one decode attempt against it and
    /// fails once `maxAttempts` runs died on it; files left `sending` are planned again
    /// (their outcome is unknown); failures from an earlier probe are judged again.
    public func beginRun(maxAttempts: Int, settings: String, checkBeforeResend: Bool = false) async throws -> RunRecord
    {
        try await db.write { db in
            var run = RunRecord(startedAt: now(), settings: settings)
            try run.insert(db)
            try db.execute(
                sql: """
                    UPDATE instance SET decoding = 0,
                        state = CASE WHEN decode_attempts >= ? THEN ? ELSE state END,
                        error = CASE WHEN decode_attempts >= ? THEN 'the process ended while decoding this file (' || decode_attempts || ' runs)' ELSE error END,
                        reason_kind = CASE WHEN decode_attempts >= ? THEN ? ELSE reason_kind END
                    WHERE decoding
                    """,
                arguments: [maxAttempts, InstanceState.failed, maxAttempts, maxAttempts, ReasonKind.decoderCrash])
            try InstanceRecord.filter(InstanceRecord.CodingKeys.state == InstanceState.sending)
                .updateAll(
                    db, InstanceRecord.CodingKeys.state.set(to: InstanceState.planned),
                    InstanceRecord.CodingKeys.error.set(to: "resent: the previous run ended during its store"),
                    InstanceRecord.CodingKeys.reasonKind.set(to: ReasonKind.interrupted),
                    InstanceRecord.CodingKeys.resendCheck.set(to: checkBeforeResend ? ResendCheck.pending : nil))
            try Self.replan(db, from: .failed, kind: .probe)
            return run
        }
    }

    /// Ends a run that did not die: files prepared but not sent were decoded without harm.
    public func endRun(_ run: RunRecord) async throws {
        try await db.write { db in
            try run.update(db)
            try db.execute(
                sql: "UPDATE instance SET decoding = 0, decode_attempts = decode_attempts - 1 WHERE decoding")
        }
    }

    /// Fails the planned files for which `reason` gives a reason, before any association;
    /// read and written a page at a time.
    public func failPlanned(destination: String, reason: @Sendable (InstanceRecord) -> String?) async throws {
        let k = InstanceRecord.CodingKeys.self
        var after: Int64 = 0
        while true {
            let page = try await db.read { [after] db in
                try InstanceRecord.filter(k.state == InstanceState.planned && k.id > after).order(k.id).limit(1000)
                    .fetchAll(db)
            }
            let failing = page.compactMap { r in reason(r).map { (r, $0) } }
            if !failing.isEmpty {
                try await db.write { db in
                    for (var r, why) in failing {
                        r.state = .failed
                        r.error = "probe of \(destination): cannot be sent: \(why)"
                        r.reasonKind = .probe
                        r.updatedAt = now()
                        try r.update(db)
                    }
                }
            }
            guard page.count == 1000, let last = page.last?.id else { return }
            after = last
        }
    }

    /// What a send pass will carry, from `beginPass`.
    public struct Pass: Sendable {
        public var files = 0
        public var bytes = 0
        /// Files a dead run was decoding (they are decoded alone).
        public var suspects = 0
        /// The (SOP class, transfer syntax) pairs of the files, in order of first use: what
        /// the associations must propose.
        public var kinds: [(sopClass: String, transferSyntax: String)] = []
    }

    /// Starts a send pass: the planned files' sending order is written once into a temporary
    /// table (SQLite sorts on disk), so that the run reads it a page at a time and holds no
    /// list of the job's files. The order: the priority accession numbers' and patients' first,
    /// then studies as `order` says (by Study Date, undated ones last; or by Study Instance
    /// UID), then series, instance number, path. Files waiting for the check before a resend
    /// are not among them.
    public func beginPass(
        order: SendOrder = .plan, firstPatients: [String] = [], firstAccessions: [String] = []
    ) async throws -> Pass {
        try await db.write { db in
            let k = InstanceRecord.CodingKeys.self
            var ordering: [any SQLOrderingTerm] = []
            if !firstAccessions.isEmpty { ordering.append(firstAccessions.contains(k.accessionNumber).desc) }
            if !firstPatients.isEmpty { ordering.append(firstPatients.contains(k.patientID).desc) }
            switch order {
            case .plan: break
            case .newestFirst: ordering += [(k.studyDate == nil).asc, k.studyDate.desc]
            case .oldestFirst: ordering += [(k.studyDate == nil).asc, k.studyDate.asc]
            }
            ordering += [k.studyInstanceUID, k.seriesInstanceUID, k.instanceNumber, k.path]
            let select = try InstanceRecord.select(k.id).filter(k.state == InstanceState.planned)
                .filter(k.resendCheck == nil || k.resendCheck != ResendCheck.pending)
                .order(ordering).makePreparedRequest(db, forSingleResult: false).statement
            try db.execute(sql: "DROP TABLE IF EXISTS temp.send_order")
            try db.execute(sql: "CREATE TEMP TABLE send_order (seq INTEGER PRIMARY KEY, instance INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO temp.send_order (instance) " + select.sql, arguments: select.arguments)
            var pass = Pass()
            if let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS n, COALESCE(SUM(i.size), 0) AS bytes,
                           COALESCE(SUM(i.decode_attempts > 0), 0) AS suspects
                    FROM temp.send_order o JOIN instance i ON i.id = o.instance
                    """)
            {
                (pass.files, pass.bytes, pass.suspects) = (row["n"], row["bytes"], row["suspects"])
            }
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT i.sop_class_uid AS c, i.transfer_syntax_uid AS t, MIN(o.seq) AS first
                    FROM temp.send_order o JOIN instance i ON i.id = o.instance
                    WHERE i.sop_class_uid IS NOT NULL AND i.transfer_syntax_uid IS NOT NULL
                    GROUP BY c, t ORDER BY first
                    """)
            {
                pass.kinds.append((row["c"], row["t"]))
            }
            return pass
        }
    }

    /// The next page of the pass begun by `beginPass`: up to `limit` files after position
    /// `after` that are still planned, with their positions.
    public func passPage(after: Int64, limit: Int) async throws -> [(position: Int64, record: InstanceRecord)] {
        try await db.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT o.seq AS position, i.* FROM temp.send_order o JOIN instance i ON i.id = o.instance
                    WHERE o.seq > ? AND i.state = ? ORDER BY o.seq LIMIT ?
                    """, arguments: [after, InstanceState.planned, limit])
            return try rows.map { (position: $0["position"], record: try InstanceRecord(row: $0)) }
        }
    }

    /// Before a decoder touches these files (committed first): each counts one decode attempt,
    /// kept against it if the process dies before the file's outcome is recorded.
    public func decoding(_ ids: [Int64]) async throws {
        try await db.write { db in
            for id in ids {
                try db.cachedStatement(
                    sql: "UPDATE instance SET decoding = 1, decode_attempts = decode_attempts + 1 WHERE id = ?"
                ).execute(arguments: [id])
            }
        }
    }

    /// The decoder returned on a file decoded alone: it is not the one that kills the process.
    public func decoded(_ id: Int64) async throws {
        try await db.write { db in
            try db.execute(sql: "UPDATE instance SET decoding = 0, decode_attempts = 0 WHERE id = ?", arguments: [id])
        }
    }

    /// A change of the send loop to one instance.
    public enum Checkpoint: Sendable {
        /// `sending`, one more attempt, on `association` (before its C-STORE-RQ is written).
        case sending(Int64)
        /// Marked `sending` but not sent: planned again, the attempt uncounted.
        case unmark(Int64)
        /// The outcome of its store, in state `state`; `checkFirst`: the outcome is unknown and
        /// the destination is asked before the file is sent again.
        case outcome(Int64, StoreOutcome, InstanceState, checkFirst: Bool)
    }

    /// One transaction of checkpoints; returns the attempts of every instance marked `sending`.
    public func checkpoint(_ changes: [Checkpoint], association: Int) async throws -> [Int64: Int] {
        try await db.write { db in
            var attempts: [Int64: Int] = [:]
            for change in changes {
                switch change {
                case .outcome(let id, let outcome, let state, let checkFirst):
                    try db.cachedStatement(
                        sql: """
                            UPDATE instance SET state = ?, status_code = ?, status_name = ?, error = ?, reason_kind = ?, sent_transfer_syntax_uid = ?,
                            bytes_sent = ?, sent_sop_instance_uid = CASE WHEN sop_instance_uid = ? THEN NULL ELSE ? END, updated_at = ?,
                            decoding = 0, decode_attempts = 0, resend_check = CASE WHEN ? THEN ? ELSE resend_check END WHERE id = ?
                            """
                    ).execute(arguments: [
                        state, outcome.status.map { Int($0.code) }, outcome.status?.name,
                        outcome.errorComment ?? outcome.error?.description, ReasonKind(outcome), outcome.sentAs?.uid,
                        outcome.bytes,
                        outcome.sopInstanceUID, outcome.sopInstanceUID, now(), checkFirst, ResendCheck.pending, id,
                    ])
                case .unmark(let id):
                    try db.cachedStatement(
                        sql: "UPDATE instance SET state = ?, attempts = attempts - 1 WHERE id = ? AND state = ?"
                    ).execute(arguments: [InstanceState.planned, id, InstanceState.sending])
                case .sending(let id):
                    attempts[id] =
                        try Int.fetchOne(
                            db.cachedStatement(
                                sql: """
                                    UPDATE instance SET state = ?, attempts = attempts + 1, association_id = ?, updated_at = ?
                                    WHERE id = ? RETURNING attempts
                                    """), arguments: [InstanceState.sending, association, now(), id]) ?? 1
                }
            }
            return attempts
        }
    }
}

extension Manifest {
    /// The files waiting for the check before their resend: id, UIDs as the destination
    /// received them.
    public func awaitingResendCheck() throws -> [(id: Int64, study: String, series: String, uid: String)] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, study_instance_uid, series_instance_uid, COALESCE(sent_sop_instance_uid, sop_instance_uid) AS uid
                    FROM instance WHERE state = ? AND resend_check = ?
                    """, arguments: [InstanceState.planned, ResendCheck.pending]
            ).map { ($0["id"], $0["study_instance_uid"] ?? "", $0["series_instance_uid"] ?? "", $0["uid"] ?? "") }
        }
    }

    /// What the check found: held (the file is done, its store's outcome now known), or not
    /// (the file is sent again).
    public func recordResendCheck(_ results: [(id: Int64, found: Bool)]) async throws {
        try await db.write { db in
            let stamp = now()
            for r in results {
                if r.found {
                    try db.execute(
                        sql: """
                            UPDATE instance SET state = ?, resend_check = ?, status_code = NULL,
                                status_name = 'found at the destination by C-FIND before a resend', error = NULL, reason_kind = NULL,
                                updated_at = ?
                            WHERE id = ?
                            """, arguments: [InstanceState.done, ResendCheck.found, stamp, r.id])
                } else {
                    try db.execute(
                        sql: "UPDATE instance SET resend_check = ?, updated_at = ? WHERE id = ?",
                        arguments: [ResendCheck.absent, stamp, r.id])
                }
            }
        }
    }
}
