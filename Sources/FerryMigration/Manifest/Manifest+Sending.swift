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

    /// Fails the planned files for which `reason` gives a reason, before any association.
    public func failPlanned(destination: String, reason: @Sendable (InstanceRecord) -> String?) async throws {
        try await db.write { db in
            let planned = try InstanceRecord.filter(InstanceRecord.CodingKeys.state == InstanceState.planned)
                .fetchAll(db)
            for var r in planned {
                guard let why = reason(r) else { continue }
                r.state = .failed
                r.error = "probe of \(destination): cannot be sent: \(why)"
                r.reasonKind = .probe
                r.updatedAt = now()
                try r.update(db)
            }
        }
    }

    /// The planned files in sending order: the priority accession numbers' and patients'
    /// first, then studies as
    /// `order` says (by Study Date, undated ones last; or by Study Instance UID), then series,
    /// instance number, path. Files waiting for the check before a resend are not among them.
    public func plannedInSendingOrder(
        order: SendOrder = .plan, firstPatients: [String] = [], firstAccessions: [String] = []
    ) async throws -> [InstanceRecord] {
        try await db.read { db in
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
            return try InstanceRecord.filter(k.state == InstanceState.planned)
                .filter(k.resendCheck == nil || k.resendCheck != ResendCheck.pending)
                .order(ordering)
                .fetchAll(db)
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
