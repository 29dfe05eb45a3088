import FerryDICOM
import FerryServices
import Foundation
import GRDB

/// The Query/Retrieve index of one storage area (SQLite through GRDB, WAL): a table per
/// level, each row with the columns queries narrow on and the level's attributes as an
/// encoded data set. Each stored file enters in one transaction, after its atomic rename, so
/// the index never names a file that is not whole.
public final class ArchiveIndex: Sendable {
    let db: DatabasePool
    public let path: String

    /// What adding an instance did.
    public enum Addition: Sendable, Equatable {
        case added
        /// The SOP Instance UID was indexed already: the first file stays (unless replacing).
        case duplicate(existingPath: String)
        case replaced(oldPath: String)
        /// Not indexed: the instance contradicts what the index holds for its study or series
        /// (another patient's study, another study's series); the reason names both values.
        case contradicts(String)
    }

    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        db = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE patient (
                        id INTEGER PRIMARY KEY, patient_id TEXT NOT NULL, issuer TEXT NOT NULL,
                        charset TEXT NOT NULL, attributes BLOB NOT NULL, UNIQUE (patient_id, issuer));
                    CREATE TABLE study (
                        id INTEGER PRIMARY KEY, patient INTEGER NOT NULL REFERENCES patient(id), uid TEXT NOT NULL UNIQUE,
                        date TEXT, time TEXT, accession TEXT, charset TEXT NOT NULL, attributes BLOB NOT NULL);
                    CREATE INDEX study_patient ON study(patient);
                    CREATE INDEX study_date ON study(date);
                    CREATE INDEX study_accession ON study(accession);
                    CREATE TABLE series (
                        id INTEGER PRIMARY KEY, study INTEGER NOT NULL REFERENCES study(id), uid TEXT NOT NULL UNIQUE,
                        modality TEXT, charset TEXT NOT NULL, attributes BLOB NOT NULL);
                    CREATE INDEX series_study ON series(study);
                    CREATE TABLE instance (
                        id INTEGER PRIMARY KEY, series INTEGER NOT NULL REFERENCES series(id), uid TEXT NOT NULL UNIQUE,
                        sop_class TEXT NOT NULL, transfer_syntax TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
                        number INTEGER, charset TEXT NOT NULL, attributes BLOB NOT NULL);
                    CREATE INDEX instance_series ON instance(series);
                    """)
        }
        return m
    }

    /// Indexes one instance. An instance already indexed under its SOP Instance UID keeps its
    /// first file unless `replace` (then the row points at the new file; the caller removes
    /// the old one once this returns).
    @discardableResult
    public func add(_ i: IndexedInstance, replace: Bool = false) throws -> Addition {
        try add(batch: [i], replace: replace)[0]  // one instance in, one addition out
    }

    /// Indexes many instances in one transaction (files indexed in place), each as `add` does.
    public func add(batch: [IndexedInstance], replace: Bool = false) throws -> [Addition] {
        var blobs: [([UInt8], [UInt8], [UInt8], [UInt8])] = []
        for i in batch {
            blobs.append(
                (try i.encoded(.patient), try i.encoded(.study), try i.encoded(.series), try i.encoded(.image)))
        }
        return try db.write { db -> [Addition] in
            var out: [Addition] = []
            for (i, b) in zip(batch, blobs) {
                if let contradiction = try Self.contradiction(db, i) {
                    out.append(.contradicts(contradiction))
                    continue
                }
                var addition = Addition.added
                if let existing = try Row.fetchOne(
                    db, sql: "SELECT id, path FROM instance WHERE uid = ?", arguments: [i.sopInstanceUID])
                {
                    let oldPath: String = existing["path"]
                    guard replace else {
                        out.append(.duplicate(existingPath: oldPath))
                        continue
                    }
                    try db.execute(sql: "DELETE FROM instance WHERE id = ?", arguments: [existing["id"] as Int64])
                    addition = .replaced(oldPath: oldPath)
                }
                try Self.insert(db, i, b.0, b.1, b.2, b.3)
                out.append(addition)
            }
            return out
        }
    }

    /// How `i` contradicts the index: its study held under another patient (Patient ID and
    /// issuer), or its series under another study (as dcm4chee-arc refuses a patient mismatch).
    /// nil when it fits.
    private static func contradiction(_ db: Database, _ i: IndexedInstance) throws -> String? {
        if let held = try Row.fetchOne(
            db,
            sql: "SELECT p.patient_id, p.issuer FROM study s JOIN patient p ON s.patient = p.id WHERE s.uid = ?",
            arguments: [i.studyInstanceUID])
        {
            let (patient, issuer): (String, String) = (held["patient_id"], held["issuer"])
            if patient != i.patientID || issuer != i.issuerOfPatientID {
                return "study \(i.studyInstanceUID) belongs to patient \(Self.named(patient, issuer)) in the index, "
                    + "the instance names patient \(Self.named(i.patientID, i.issuerOfPatientID))"
            }
        }
        if let study = try String.fetchOne(
            db, sql: "SELECT s.uid FROM series r JOIN study s ON r.study = s.id WHERE r.uid = ?",
            arguments: [i.seriesInstanceUID]), study != i.studyInstanceUID
        {
            return
                "series \(i.seriesInstanceUID) belongs to study \(study) in the index, the instance names study \(i.studyInstanceUID)"
        }
        return nil
    }

    private static func named(_ patient: String, _ issuer: String) -> String {
        "\"\(patient)\"" + (issuer.isEmpty ? "" : " (issuer \"\(issuer)\")")
    }

    private static func insert(
        _ db: Database, _ i: IndexedInstance, _ patientBlob: [UInt8], _ studyBlob: [UInt8], _ seriesBlob: [UInt8],
        _ imageBlob: [UInt8]
    ) throws {
        let patient: Int64
        if let id = try Int64.fetchOne(
            db, sql: "SELECT id FROM patient WHERE patient_id = ? AND issuer = ?",
            arguments: [i.patientID, i.issuerOfPatientID])
        {
            patient = id
        } else {
            try db.execute(
                sql: "INSERT INTO patient (patient_id, issuer, charset, attributes) VALUES (?, ?, ?, ?)",
                arguments: [i.patientID, i.issuerOfPatientID, i.charset, Data(patientBlob)])
            patient = db.lastInsertedRowID
        }
        let study: Int64
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM study WHERE uid = ?", arguments: [i.studyInstanceUID]) {
            study = id
        } else {
            try db.execute(
                sql: """
                    INSERT INTO study (patient, uid, date, time, accession, charset, attributes)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    patient, i.studyInstanceUID, i.studyDate, i.studyTime, i.accessionNumber, i.charset,
                    Data(studyBlob),
                ])
            study = db.lastInsertedRowID
        }
        let series: Int64
        if let id = try Int64.fetchOne(db, sql: "SELECT id FROM series WHERE uid = ?", arguments: [i.seriesInstanceUID])
        {
            series = id
        } else {
            try db.execute(
                sql: "INSERT INTO series (study, uid, modality, charset, attributes) VALUES (?, ?, ?, ?, ?)",
                arguments: [study, i.seriesInstanceUID, i.modality, i.charset, Data(seriesBlob)])
            series = db.lastInsertedRowID
        }
        try db.execute(
            sql: """
                INSERT INTO instance (series, uid, sop_class, transfer_syntax, path, size, number, charset, attributes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                series, i.sopInstanceUID, i.sopClassUID, i.transferSyntaxUID, i.path, i.size, i.instanceNumber,
                i.charset, Data(imageBlob),
            ])
    }

    /// Counts, for status lines and tests.
    /// The SOP class and file of an indexed instance.
    public func file(of sopInstanceUID: String) throws -> (sopClass: String, path: String)? {
        try db.read { db in
            try Row.fetchOne(db, sql: "SELECT sop_class, path FROM instance WHERE uid = ?", arguments: [sopInstanceUID])
                .map { ($0["sop_class"], $0["path"]) }
        }
    }

    public func counts() throws -> (patients: Int, studies: Int, series: Int, instances: Int) {
        try db.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM patient") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM study") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM series") ?? 0,
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM instance") ?? 0
            )
        }
    }
}

extension ArchiveIndex {
    /// What the quota checks: the studies held, the bytes of one study, whether it is held.
    func usage(study uid: String) throws -> (studies: Int, studyBytes: Int, hasStudy: Bool) {
        try db.read { db in
            let studies = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM study") ?? 0
            let id = try Int64.fetchOne(db, sql: "SELECT id FROM study WHERE uid = ?", arguments: [uid])
            let bytes =
                try id.map {
                    try Int.fetchOne(
                        db,
                        sql:
                            "SELECT COALESCE(SUM(i.size), 0) FROM instance i JOIN series r ON i.series = r.id WHERE r.study = ?",
                        arguments: [$0])
                } ?? 0
            return (studies, bytes ?? 0, id != nil)
        }
    }
}
