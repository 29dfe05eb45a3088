import FerryServices
import GRDB

/// A sent instance storage commitment asks about: under the UID the destination received.
public struct CommitmentCandidate: Sendable {
    public var id: Int64
    public var sopClass: String
    public var uid: String
    public var study: String?
    /// The transaction of an earlier request that was never answered.
    public var earlierTransaction: String?
}

/// Where a storage commitment request stands.
public enum TransactionState: String, Codable, Sendable, DatabaseValueConvertible {
    case requested, answered, refused, unanswered
    /// Never answered, and asked again in a new transaction.
    case superseded
}

/// One storage commitment request of a run, and what came of it.
public struct CommitmentTransaction: Codable, Sendable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "commitment_transaction"
    public var uid: String
    public var requestedAt: Double
    public var instances: Int
    public var state: TransactionState
    public var answeredAt: Double?
    public var committed = 0
    public var failed = 0
    public var detail: String?

    enum CodingKeys: String, CodingKey {
        case uid, requestedAt = "requested_at", instances, state, answeredAt = "answered_at", committed, failed, detail
    }
}

/// Commitment counts over the manifest.
public struct CommitmentCounts: Sendable, Equatable {
    public var committed = 0
    public var failed = 0
    /// Requested and not answered yet (asked again by the next run).
    public var outstanding = 0
}

extension Manifest {
    /// Sent instances not committed yet: never asked, or asked by a request never answered.
    public func commitmentCandidates() throws -> [CommitmentCandidate] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, sop_class_uid, COALESCE(sent_sop_instance_uid, sop_instance_uid) AS uid,
                        study_instance_uid, commitment, commitment_uid
                    FROM instance WHERE state IN (?, ?) AND sop_class_uid IS NOT NULL AND sop_instance_uid IS NOT NULL
                        AND (commitment IS NULL OR commitment = ?)
                    ORDER BY study_instance_uid, id
                    """,
                arguments: [InstanceState.done, InstanceState.doneWarning, CommitmentState.requested]
            ).map {
                CommitmentCandidate(
                    id: $0["id"], sopClass: $0["sop_class_uid"], uid: $0["uid"], study: $0["study_instance_uid"],
                    earlierTransaction: $0["commitment_uid"])
            }
        }
    }

    /// Records the requests before their N-ACTIONs go: a run killed from here on leaves the
    /// instances `requested`, and the next run asks again. Earlier unanswered transactions
    /// of these instances are superseded.
    public func beginCommitment(
        _ requests: [(uid: String, ids: [Int64])], superseding earlier: Set<String>
    )
        async throws
    {
        try await db.write { db in
            for tx in earlier {
                try db.execute(
                    sql:
                        "UPDATE commitment_transaction SET state = ? WHERE uid = ? AND state IN (?, ?)",
                    arguments: [
                        TransactionState.superseded, tx, TransactionState.requested, TransactionState.unanswered,
                    ])
            }
            let stamp = now()
            for r in requests {
                try CommitmentTransaction(
                    uid: r.uid, requestedAt: stamp, instances: r.ids.count, state: .requested
                ).insert(db)
                for id in r.ids {
                    try db.execute(
                        sql: """
                            UPDATE instance SET commitment = ?, commitment_uid = ?, commitment_reason = NULL, committed_at = NULL
                            WHERE id = ?
                            """, arguments: [CommitmentState.requested, r.uid, id])
                }
            }
        }
    }

    /// What came of one request: the report's per-instance results, a refusal (the
    /// instances are asked again next run), or no report (they stay requested).
    public func recordCommitment(_ tx: String, _ outcome: CommitmentSCU.Outcome, ids: [String: Int64]) async throws {
        try await db.write { db in
            let stamp = now()
            switch outcome {
            case .report(let report):
                var committed = 0
                var failed = 0
                for r in report.committed {
                    guard let id = ids[r.sopInstance] else { continue }
                    try db.execute(
                        sql: """
                            UPDATE instance SET commitment = ?, commitment_reason = NULL, committed_at = ?
                            WHERE id = ? AND commitment_uid = ?
                            """, arguments: [CommitmentState.committed, stamp, id, tx])
                    committed += db.changesCount
                }
                for f in report.failed {
                    guard let id = ids[f.reference.sopInstance] else { continue }
                    let reason =
                        "0x\(String(f.reason, radix: 16, uppercase: true)) \(StorageCommitment.failureName(f.reason))"
                    try db.execute(
                        sql: """
                            UPDATE instance SET commitment = ?, commitment_reason = ?, committed_at = ?
                            WHERE id = ? AND commitment_uid = ?
                            """, arguments: [CommitmentState.failed, reason, stamp, id, tx])
                    failed += db.changesCount
                }
                let unnamed = ids.count - committed - failed
                try db.execute(
                    sql: """
                        UPDATE commitment_transaction SET state = ?, answered_at = ?, committed = ?, failed = ?, detail = ?
                        WHERE uid = ?
                        """,
                    arguments: [
                        TransactionState.answered, stamp, committed, failed,
                        unnamed > 0 ? "\(unnamed) instances not in the report (asked again next run)" : nil, tx,
                    ])
            case .refused(let status, let comment):
                try db.execute(
                    sql:
                        "UPDATE instance SET commitment = NULL, commitment_uid = NULL WHERE commitment_uid = ? AND commitment = ?",
                    arguments: [tx, CommitmentState.requested])
                try db.execute(
                    sql:
                        "UPDATE commitment_transaction SET state = ?, answered_at = ?, detail = ? WHERE uid = ?",
                    arguments: [
                        TransactionState.refused, stamp,
                        "N-ACTION refused: \(status)\(comment.map { " (\($0))" } ?? "")", tx,
                    ])
            case .noReport:
                try db.execute(
                    sql: "UPDATE commitment_transaction SET state = ? WHERE uid = ?",
                    arguments: [TransactionState.unanswered, tx])
            }
        }
    }

    public func commitmentCounts() throws -> CommitmentCounts {
        try db.read { db in
            var c = CommitmentCounts()
            for row in try Row.fetchAll(
                db,
                sql: "SELECT commitment, COUNT(*) AS n FROM instance WHERE commitment IS NOT NULL GROUP BY commitment")
            {
                switch CommitmentState(rawValue: row["commitment"] ?? "") {
                case .committed?: c.committed = row["n"]
                case .failed?: c.failed = row["n"]
                case .requested?: c.outstanding = row["n"]
                case nil: break
                }
            }
            return c
        }
    }

    public func commitmentTransactions() throws -> [CommitmentTransaction] {
        try db.read { db in try CommitmentTransaction.order(Column("requested_at"), Column("uid")).fetchAll(db) }
    }

    /// The instances whose commitment failed, with the reason.
    public func commitmentFailures() throws -> [InstanceRecord] {
        try db.read { db in
            try InstanceRecord.filter(InstanceRecord.CodingKeys.commitment == CommitmentState.failed)
                .order(InstanceRecord.CodingKeys.id).fetchAll(db)
        }
    }
}
