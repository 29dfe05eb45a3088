import Foundation
import GRDB

/// Where a study of a PACS source stands in a pull job.
public enum SourceStudyState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// Listed by the source at STUDY level.
    case inventoried
    /// Its series and instances listed too (`source_series`, `source_instance`).
    case listed
    /// A retrieve under way (checkpointed before it starts: a run killed meanwhile retrieves
    /// the study again, into an emptied staging folder).
    case retrieving
    /// Retrieved, with the sub-operation counts and what did not come.
    case retrieved
}

/// What a pull job's inventory holds.
public struct InventorySummary: Codable, Sendable, Equatable {
    public var studies = 0
    /// The sum of the source's NumberOfStudyRelatedInstances, over the studies that gave one.
    public var instances = 0
    /// Studies whose source gave no count.
    public var uncounted = 0
    /// Studies whose series and instances are listed, and what they hold.
    public var listedStudies = 0
    public var series = 0
    public var listedInstances = 0
    /// Series whose instance list the source capped.
    public var cappedSeries = 0
    /// Listed instances their study's last retrieve delivered (move-direct: that the
    /// destination lists).
    public var receivedInstances = 0
    /// move-direct: received instances `ferry verify` found at the destination.
    public var verifiedInstances = 0
}

extension Manifest {
    /// Records studies the source listed (in one transaction): a study listed again keeps its
    /// state and gets the source's latest values, unless the source now counts another number
    /// of instances in it: then it is to be listed again (and what it holds that was not
    /// received, retrieved), with its attempts counted afresh. Returns how many were new and
    /// how many changed.
    @discardableResult
    public func recordInventory(_ studies: [InventoriedStudy]) throws -> (added: Int, changed: Int) {
        let now = Date().timeIntervalSince1970
        return try db.write { db in
            var (added, changed) = (0, 0)
            for s in studies {
                let known = try Row.fetchOne(
                    db, sql: "SELECT source_instances, state FROM source_study WHERE uid = ?", arguments: [s.uid])
                guard let known else {
                    added += 1
                    try db.execute(
                        sql: """
                            INSERT INTO source_study
                                (uid, patient_id, study_date, modalities, source_instances, state, inventoried_at)
                            VALUES (?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            s.uid, s.patientID, s.date, s.modalities, s.instances, SourceStudyState.inventoried, now,
                        ])
                    continue
                }
                let before: Int? = known["source_instances"]
                let state: SourceStudyState = known["state"] ?? .inventoried
                let again = s.instances != nil && s.instances != before && state != .inventoried
                if again { changed += 1 }
                try db.execute(
                    sql: """
                        UPDATE source_study SET patient_id = ?, study_date = ?, modalities = ?, source_instances = ?,
                            inventoried_at = ?, state = ?, attempts = CASE WHEN ? THEN 0 ELSE attempts END,
                            retry_at = CASE WHEN ? THEN NULL ELSE retry_at END
                        WHERE uid = ?
                        """,
                    arguments: [
                        s.patientID, s.date, s.modalities, s.instances, now, again ? .inventoried : state, again,
                        again, s.uid,
                    ])
            }
            return (added, changed)
        }
    }

    /// A `--follow` pass: when, and what it found.
    public func recordSync(added: Int, changed: Int) throws {
        try db.write { db in
            try db.execute(
                sql: "INSERT INTO source_sync (at, added, changed) VALUES (?, ?, ?)",
                arguments: [Date().timeIntervalSince1970, added, changed])
        }
    }

    /// The last `--follow` pass, if any, and how many there were.
    public func lastSync() throws -> (at: Date, added: Int, changed: Int, passes: Int)? {
        try db.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT at, added, changed, (SELECT COUNT(*) FROM source_sync) AS passes
                        FROM source_sync ORDER BY at DESC LIMIT 1
                        """)
            else { return nil }
            return (Date(timeIntervalSince1970: row["at"]), row["added"], row["changed"], row["passes"])
        }
    }

    public func inventorySummary() throws -> InventorySummary {
        try db.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS studies, COALESCE(SUM(source_instances), 0) AS instances,
                        COALESCE(SUM(source_instances IS NULL), 0) AS uncounted,
                        COALESCE(SUM(state = 'listed'), 0) AS listed,
                        (SELECT COUNT(*) FROM source_series) AS series,
                        (SELECT COUNT(*) FROM source_series WHERE capped) AS capped,
                        (SELECT COUNT(*) FROM source_instance) AS listed_instances,
                        (SELECT COUNT(*) FROM source_instance WHERE received) AS received,
                        (SELECT COUNT(*) FROM source_instance WHERE verification = 'verified') AS verified
                    FROM source_study
                    """)
            var s = InventorySummary()
            (s.studies, s.instances, s.uncounted) = (
                row?["studies"] ?? 0, row?["instances"] ?? 0, row?["uncounted"] ?? 0
            )
            (s.listedStudies, s.series) = (row?["listed"] ?? 0, row?["series"] ?? 0)
            (s.cappedSeries, s.listedInstances) = (row?["capped"] ?? 0, row?["listed_instances"] ?? 0)
            s.receivedInstances = row?["received"] ?? 0
            s.verifiedInstances = row?["verified"] ?? 0
            return s
        }
    }

    /// Studies inventoried whose series and instances are not listed yet, up to `limit`.
    public func studiesToList(limit: Int) throws -> [String] {
        try db.read { db in
            try String.fetchAll(
                db, sql: "SELECT uid FROM source_study WHERE state = ? ORDER BY uid LIMIT ?",
                arguments: [SourceStudyState.inventoried, limit])
        }
    }

    /// Records a study's listing and marks it listed, in one transaction (what an earlier,
    /// interrupted listing of it recorded is replaced).
    /// Instances received before keep that mark (a study listed again after its source count
    /// changed retrieves only what is new).
    public func recordListing(_ listing: StudyListing) throws {
        try db.write { db in
            let received = try String.fetchAll(
                db, sql: "SELECT uid FROM source_instance WHERE study_uid = ? AND received",
                arguments: [listing.studyUID])
            try db.execute(sql: "DELETE FROM source_series WHERE study_uid = ?", arguments: [listing.studyUID])
            try db.execute(sql: "DELETE FROM source_instance WHERE study_uid = ?", arguments: [listing.studyUID])
            for series in listing.series {
                try db.execute(
                    sql: """
                        INSERT INTO source_series (uid, study_uid, modality, source_instances, capped)
                        VALUES (?, ?, ?, ?, ?) ON CONFLICT(uid) DO NOTHING
                        """,
                    arguments: [series.uid, listing.studyUID, series.modality, series.sourceInstances, series.capped])
                for i in series.instances {
                    try db.execute(
                        sql: """
                            INSERT INTO source_instance (uid, study_uid, series_uid, sop_class, transfer_syntax)
                            VALUES (?, ?, ?, ?, ?) ON CONFLICT(uid) DO NOTHING
                            """,
                        arguments: [i.uid, listing.studyUID, series.uid, i.sopClass, i.transferSyntax])
                }
            }
            for uid in received {
                try db.execute(sql: "UPDATE source_instance SET received = 1 WHERE uid = ?", arguments: [uid])
            }
            try db.execute(
                sql: "UPDATE source_study SET state = ? WHERE uid = ?",
                arguments: [SourceStudyState.listed, listing.studyUID])
        }
    }

    /// Studies to retrieve next (listed, or caught mid-retrieve by a kill), up to `limit`;
    /// a study to be retried waits for its time.
    public func studiesToRetrieve(limit: Int, now: Date = Date()) throws -> [String] {
        try db.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT uid FROM source_study WHERE state IN (?, ?) AND (retry_at IS NULL OR retry_at <= ?)
                    ORDER BY study_date, uid LIMIT ?
                    """,
                arguments: [SourceStudyState.retrieving, SourceStudyState.listed, now.timeIntervalSince1970, limit])
        }
    }

    /// The earliest time a study waits for before it is retried, if one waits.
    public func nextRetry() throws -> Date? {
        try db.read { db in
            try Double.fetchOne(
                db, sql: "SELECT MIN(retry_at) FROM source_study WHERE state = ? AND retry_at IS NOT NULL",
                arguments: [SourceStudyState.listed]
            ).map { Date(timeIntervalSince1970: $0) }
        }
    }

    /// A study's listed instances (UID, SOP class, series, whether an earlier retrieve
    /// delivered it).
    public func listedInstances(
        of study: String
    ) throws -> [(uid: String, sopClass: String, series: String, received: Bool)] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT uid, sop_class, series_uid, COALESCE(received, 0) AS received FROM source_instance WHERE study_uid = ?",
                arguments: [study]
            ).map { ($0["uid"], $0["sop_class"], $0["series_uid"], $0["received"]) }
        }
    }

    /// How many of a study's listed instances no retrieve delivered yet.
    public func pendingInstances(of study: String) throws -> Int {
        try db.read { db in
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM source_instance WHERE study_uid = ? AND NOT COALESCE(received, 0)",
                arguments: [study]) ?? 0
        }
    }

    /// Whether the source capped the instance list of one of the study's series.
    public func hasCappedSeries(_ study: String) throws -> Bool {
        try db.read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM source_series WHERE study_uid = ? AND capped)",
                arguments: [study]) ?? false
        }
    }

    /// Checkpoint before a study's retrieve; returns its attempts, this one included.
    public func markRetrieving(_ study: String) throws -> Int {
        try db.write { db in
            try db.execute(
                sql: "UPDATE source_study SET state = ?, attempts = attempts + 1 WHERE uid = ?",
                arguments: [SourceStudyState.retrieving, study])
            return try Int.fetchOne(db, sql: "SELECT attempts FROM source_study WHERE uid = ?", arguments: [study])
                ?? 0
        }
    }

    /// The listed instances not received yet, by SOP class and the syntax the source holds
    /// them in (nil: not said): what the dry run negotiates.
    public func pendingGroups() throws -> [(sopClass: String, transferSyntax: String?, instances: Int)] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT i.sop_class, i.transfer_syntax, COUNT(*) AS n FROM source_instance i
                    JOIN source_study s ON s.uid = i.study_uid
                    WHERE i.received IS NOT 1 AND s.state != ?
                    GROUP BY i.sop_class, i.transfer_syntax ORDER BY i.sop_class, i.transfer_syntax
                    """, arguments: [SourceStudyState.retrieved]
            ).map { ($0["sop_class"], $0["transfer_syntax"], $0["n"]) }
        }
    }

    /// Listed instances received while their study's retrieve goes on (handed on to be sent
    /// before it ends): a retrieve after a kill asks only for the others.
    public func markReceived(_ uids: [String]) throws {
        try db.write { db in
            for uid in uids {
                try db.execute(sql: "UPDATE source_instance SET received = 1 WHERE uid = ?", arguments: [uid])
            }
        }
    }

    /// The listed instances whose files staging holds (planned from it): received, whatever
    /// the retrieve that brought them recorded before a kill.
    public func markReceived(stagedUnder staging: String) throws {
        let prefix = staging.hasSuffix("/") ? staging : staging + "/"
        try db.write { db in
            try db.execute(
                sql: """
                    UPDATE source_instance SET received = 1 WHERE uid IN (
                        SELECT sop_instance_uid FROM instance WHERE substr(path, 1, length(?)) = ?)
                    """, arguments: [prefix, prefix])
        }
    }

    /// A study's retrieve ended with these counts and `missing` (listed instances not
    /// received): retrieved, or listed again to be retried at `retryAt`.
    public func recordRetrieve(
        _ study: String, completed: Int, failed: Int, warning: Int, missing: [String], retryAt: Date?
    ) throws {
        try db.write { db in
            try db.execute(
                sql: """
                    UPDATE source_study SET state = ?, completed = ?, failed = ?, warning = ?, missing = ?, retry_at = ?
                    WHERE uid = ?
                    """,
                arguments: [
                    retryAt == nil ? SourceStudyState.retrieved : SourceStudyState.listed, completed, failed, warning,
                    missing.count, retryAt?.timeIntervalSince1970, study,
                ])
            try db.execute(sql: "UPDATE source_instance SET received = 1 WHERE study_uid = ?", arguments: [study])
            for uid in missing {
                try db.execute(sql: "UPDATE source_instance SET received = 0 WHERE uid = ?", arguments: [uid])
            }
        }
    }

    /// Listed instances of retrieved studies (no retry left) that the last retrieve did not
    /// deliver, by study (at most `limit`).
    public func missingInstances(limit: Int = 1000) throws -> [(study: String, uid: String)] {
        try db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT i.study_uid, i.uid FROM source_instance i JOIN source_study s ON s.uid = i.study_uid
                    WHERE i.received = 0 AND s.state = ? ORDER BY i.study_uid, i.uid LIMIT ?
                    """, arguments: [SourceStudyState.retrieved, limit]
            ).map { ($0["study_uid"], $0["uid"]) }
        }
    }

    /// How many listed instances of retrieved studies never came (see `missingInstances`).
    public func missingInstanceCount() throws -> Int {
        try db.read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM source_instance i JOIN source_study s ON s.uid = i.study_uid
                    WHERE i.received = 0 AND s.state = ?
                    """, arguments: [SourceStudyState.retrieved]) ?? 0
        }
    }

    /// Calls `body` with every listed instance of a retrieved study that never came, by study,
    /// read a page at a time.
    public func forEachMissingInstance(_ body: (_ study: String, _ uid: String) throws -> Void) throws {
        var after = ("", "")
        while true {
            let page: [(String, String)] = try db.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT i.study_uid, i.uid FROM source_instance i JOIN source_study s ON s.uid = i.study_uid
                        WHERE i.received = 0 AND s.state = ? AND (i.study_uid, i.uid) > (?, ?)
                        ORDER BY i.study_uid, i.uid LIMIT 1000
                        """, arguments: [SourceStudyState.retrieved, after.0, after.1]
                ).map { ($0["study_uid"], $0["uid"]) }
            }
            for (study, uid) in page { try body(study, uid) }
            guard page.count == 1000, let last = page.last else { return }
            after = last
        }
    }

    /// Studies retrieved with listed instances missing, and how many.
    public func retrievedIncomplete() throws -> [(study: String, missing: Int)] {
        try db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT uid, missing FROM source_study WHERE state = ? AND missing > 0 ORDER BY uid",
                arguments: [SourceStudyState.retrieved]
            ).map { ($0["uid"], $0["missing"]) }
        }
    }

    /// Paths of instances sent (done) under `directory`: staged files that may go.
    public func doneFiles(under directory: String) throws -> [String] {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return try db.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT path FROM instance WHERE state IN ('done', 'done_warning')
                    AND substr(path, 1, length(?)) = ?
                    """, arguments: [prefix, prefix])
        }
    }

    /// A pull job's studies by state (empty for a job that reads files).
    public func sourceStudyStates() throws -> [SourceStudyState: Int] {
        try db.read { db in
            var out: [SourceStudyState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM source_study GROUP BY state") {
                if let state = SourceStudyState(rawValue: row["state"]) { out[state] = row["n"] }
            }
            return out
        }
    }
}
