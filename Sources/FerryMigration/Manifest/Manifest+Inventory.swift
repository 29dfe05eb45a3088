import Foundation
import GRDB

/// Where a study of a PACS source stands in a pull job.
public enum SourceStudyState: String, Codable, Sendable, DatabaseValueConvertible {
    /// Listed by the source; nothing retrieved yet.
    case inventoried
}

/// What a pull job's inventory holds.
public struct InventorySummary: Sendable, Equatable {
    public var studies = 0
    /// The sum of the source's NumberOfStudyRelatedInstances, over the studies that gave one.
    public var instances = 0
    /// Studies whose source gave no count.
    public var uncounted = 0
}

extension Manifest {
    /// Records studies the source listed (in one transaction): a study listed again keeps its
    /// state and gets the source's latest values. Returns how many were new.
    @discardableResult
    public func recordInventory(_ studies: [InventoriedStudy]) throws -> Int {
        let now = Date().timeIntervalSince1970
        return try db.write { db in
            var added = 0
            for s in studies {
                if try Bool.fetchOne(db, sql: "SELECT 1 FROM source_study WHERE uid = ?", arguments: [s.uid]) == nil {
                    added += 1
                }
                try db.execute(
                    sql: """
                        INSERT INTO source_study
                            (uid, patient_id, study_date, modalities, source_instances, state, inventoried_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT(uid) DO UPDATE SET patient_id = excluded.patient_id,
                            study_date = excluded.study_date, modalities = excluded.modalities,
                            source_instances = excluded.source_instances, inventoried_at = excluded.inventoried_at
                        """,
                    arguments: [
                        s.uid, s.patientID, s.date, s.modalities, s.instances, SourceStudyState.inventoried, now,
                    ])
            }
            return added
        }
    }

    public func inventorySummary() throws -> InventorySummary {
        try db.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) AS studies, COALESCE(SUM(source_instances), 0) AS instances,
                        SUM(source_instances IS NULL) AS uncounted FROM source_study
                    """)
            return InventorySummary(
                studies: row?["studies"] ?? 0, instances: row?["instances"] ?? 0, uncounted: row?["uncounted"] ?? 0)
        }
    }
}
