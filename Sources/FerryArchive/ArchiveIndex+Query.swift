import FerryDICOM
import FerryServices
import Foundation
import GRDB

/// A retrieve's matching passed its time budget.
struct RetrieveBudgetSpent: Error {}

extension ArchiveIndex {
    /// A page of C-FIND answers: at most `limit` answers from at most `scanLimit` candidate
    /// rows after `after` (an id of the query level's table, 0 to start), in index order;
    /// `next` is where the following page starts, nil when no rows are left. Each page is one
    /// short read, so a query over the whole index holds one page in memory and leaves the
    /// blocking pool to other work between its pages.
    public func findPage(
        _ query: PreparedQuery, after: Int64, limit: Int, scanLimit: Int, retrieveAETitle: String?
    ) throws -> (answers: [DataSet], next: Int64?) {
        try db.read { db in
            var answers: [DataSet] = []
            let next = try Self.scan(db, query, after: after, scanLimit: scanLimit) { record in
                answers.append(try Self.response(record, query.query, db, retrieveAETitle))
                return answers.count < limit
            }
            return (answers, next)
        }
    }

    /// The row ids of the instances a C-MOVE or C-GET of `query` sends, every instance under
    /// each match in study, series and instance number order: 8 bytes an instance. The matches
    /// are found a page at a time and only their ids kept; `deadline` bounds the matching.
    public func instanceIDs(_ query: PreparedQuery, deadline: ContinuousClock.Instant) throws -> [Int64] {
        var matched: [Int64] = []
        var after: Int64? = 0
        while let start = after {
            guard ContinuousClock.now < deadline else { throw RetrieveBudgetSpent() }
            after = try db.read { db in
                try Self.scan(db, query, after: start, scanLimit: 2000) { record in
                    if let id = record.id(at: query.query.level) { matched.append(id) }
                    return true
                }
            }
        }
        let column =
            switch query.query.level {
            case .patient: "s.patient"
            case .study: "r.study"
            case .series: "i.series"
            case .image: "i.id"
            }
        var ids: [Int64] = []
        for start in stride(from: 0, to: matched.count, by: 500) {
            let chunk = Array(matched[start..<min(start + 500, matched.count)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            ids += try db.read { db in
                try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT i.id FROM instance i JOIN series r ON i.series = r.id JOIN study s ON r.study = s.id
                        WHERE \(column) IN (\(marks)) ORDER BY s.id, r.id, i.number, i.id
                        """, arguments: StatementArguments(chunk))
            }
        }
        return ids
    }

    /// The instances of these row ids, in their order; a row gone since stands as an instance
    /// with no file (its sub-operation fails, so the counts stay whole).
    public func instances(ids: ArraySlice<Int64>) throws -> [StoredInstance] {
        var byID: [Int64: StoredInstance] = [:]
        for start in stride(from: ids.startIndex, to: ids.endIndex, by: 500) {
            let chunk = Array(ids[start..<min(start + 500, ids.endIndex)])
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            try db.read { db in
                for row in try Row.fetchAll(
                    db, sql: "SELECT id, path, sop_class, uid, transfer_syntax FROM instance WHERE id IN (\(marks))",
                    arguments: StatementArguments(chunk))
                {
                    byID[row["id"]] = StoredInstance(
                        path: row["path"], sopClassUID: row["sop_class"], sopInstanceUID: row["uid"],
                        transferSyntaxUID: row["transfer_syntax"])
                }
            }
        }
        return ids.map {
            byID[$0] ?? StoredInstance(path: "", sopClassUID: "", sopInstanceUID: "", transferSyntaxUID: "")
        }
    }

    /// One candidate entity with the records of its level and the levels above it.
    struct Record {
        var patientID: Int64?, studyID: Int64?, seriesID: Int64?, instanceID: Int64?
        var parts: [QueryLevel: DataSet] = [:]
        var charsets: [QueryLevel: SpecificCharacterSet] = [:]
        /// The index's own values (counts, modalities in study), computed when asked for.
        var computed: [Tag: DataElement] = [:]

        func id(at level: QueryLevel) -> Int64? {
            switch level {
            case .patient: patientID
            case .study: studyID
            case .series: seriesID
            case .image: instanceID
            }
        }
    }

    /// A level's table, its alias in the query, and the table of the level above it.
    private typealias LevelTable = (QueryLevel, alias: String, table: String, parent: String?)

    private static let tables: [LevelTable] = [
        (.patient, "p", "patient", nil), (.study, "s", "study", "patient"), (.series, "r", "series", "study"),
        (.image, "i", "instance", "series"),
    ]

    /// Reads up to `scanLimit` candidate rows of the query level after the id `after`, in id
    /// order (SQL narrows the rows, the Swift matcher decides), and hands each match to `take`
    /// until it returns false. Returns the id to resume after, nil when no rows are left.
    static func scan(
        _ db: Database, _ query: PreparedQuery, after: Int64, scanLimit: Int, _ take: (Record) throws -> Bool
    ) throws -> Int64? {
        let chain = tables.filter { $0.0 <= query.query.level }
        let (select, from) = selectAndJoins(chain)
        var (conditions, arguments) = narrowing(query.query)
        let id = "\(chain[chain.count - 1].alias).id"
        conditions.append("\(id) > ?")
        arguments.append(after)
        let sql =
            "SELECT \(select.joined(separator: ", ")) FROM \(from) WHERE \(conditions.joined(separator: " AND "))"
            + " ORDER BY \(id) LIMIT \(max(1, scanLimit))"
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments))
        var (last, read): (Int64, Int) = (after, 0)
        while let row = try cursor.next() {
            read += 1
            var record = Self.record(row, chain)
            last = record.id(at: query.query.level) ?? last
            try compute(db, query.query, &record)
            if query.matches(record), try !take(record) { return last }
        }
        return read < scanLimit ? nil : last
    }

    /// The columns of each level in `chain`, and FROM the query level's table, joined to each
    /// level above.
    private static func selectAndJoins(_ chain: [LevelTable]) -> (select: [String], from: String) {
        var select: [String] = []
        var from = ""
        for (i, t) in chain.reversed().enumerated() {
            select += [
                "\(t.alias).id AS \(t.alias)_id", "\(t.alias).charset AS \(t.alias)_cs",
                "\(t.alias).attributes AS \(t.alias)_at",
            ]
            if i == 0 {
                from = "\(t.table) \(t.alias)"
            } else if let below = chain.first(where: { $0.parent == t.table }) {
                from += " JOIN \(t.table) \(t.alias) ON \(below.alias).\(t.table) = \(t.alias).id"
            }
        }
        return (select, from)
    }

    /// The WHERE conditions on the indexed columns, with their arguments: they only narrow the
    /// rows (single values without wildcards, UID lists, Study Date and its ranges); every key
    /// is then matched in Swift.
    private static func narrowing(_ query: Query) -> (conditions: [String], arguments: [DatabaseValueConvertible?]) {
        var conditions: [String] = []
        var arguments: [DatabaseValueConvertible?] = []
        func narrow(_ column: String, to values: [String]?) {
            guard let values, !values.isEmpty, values.count <= 1000 else { return }
            conditions.append("\(column) IN (\(Array(repeating: "?", count: values.count).joined(separator: ",")))")
            arguments += values
        }
        func single(_ tag: Tag) -> String? {
            guard let v = query.key(tag)?.string, !v.isEmpty, !v.contains(where: { "*?\\".contains($0) }) else {
                return nil
            }
            return v
        }
        narrow("p.patient_id", to: single(QueryKeys.patientID).map { [$0] })
        if query.level >= .study {
            narrow("s.uid", to: query.uids(QueryKeys.studyInstanceUID))
            narrow("s.accession", to: single(QueryKeys.accessionNumber).map { [$0] })
            if let date = query.key(QueryKeys.studyDate)?.string, !date.contains("\\") {
                let bounds = date.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
                let isDate = { (s: String) in s.count == 8 && s.allSatisfy(\.isNumber) }
                if bounds.count == 1, isDate(date) {
                    conditions.append("s.date = ?")
                    arguments.append(date)
                } else if bounds.count == 2 {
                    if isDate(bounds[0]) {
                        conditions.append("s.date >= ?")
                        arguments.append(bounds[0])
                    }
                    if isDate(bounds[1]) {
                        conditions.append("s.date <= ?")
                        arguments.append(bounds[1])
                    }
                }
            }
        }
        if query.level >= .series {
            narrow("r.uid", to: query.uids(QueryKeys.seriesInstanceUID))
            narrow("r.modality", to: single(QueryKeys.modality).map { [$0] })
        }
        if query.level >= .image { narrow("i.uid", to: query.uids(QueryKeys.sopInstanceUID)) }
        return (conditions, arguments)
    }

    /// The candidate of one result row: the id, attributes and character set of each level in
    /// `chain` (attributes that do not decode count as empty).
    private static func record(_ row: Row, _ chain: [LevelTable]) -> Record {
        var record = Record()
        for t in chain {
            let id: Int64 = row["\(t.alias)_id"]
            switch t.0 {
            case .patient: record.patientID = id
            case .study: record.studyID = id
            case .series: record.seriesID = id
            case .image: record.instanceID = id
            }
            let blob: Data = row["\(t.alias)_at"]
            record.parts[t.0] = (try? DataSetDecoder.decode([UInt8](blob), encoding: .explicitLittle)) ?? DataSet()
            record.charsets[t.0] = SpecificCharacterSet(row["\(t.alias)_cs"] as String)
        }
        return record
    }

    static func value(_ tag: Tag, in record: Record, query: Query) -> (DataElement?, SpecificCharacterSet) {
        if let c = record.computed[tag] { return (c, .ascii) }
        let level = QueryKeys.level(of: tag)
        return (record.parts[level]?[tag], record.charsets[level] ?? .ascii)
    }

    /// The counts and lists the index computes (PS3.4 C.3.4), for the keys that ask for them.
    static func compute(_ db: Database, _ query: Query, _ record: inout Record) throws {
        func count(_ sql: String, _ id: Int64?) throws -> DataElement? {
            guard let id else { return nil }
            let n = try Int.fetchOne(db, sql: sql, arguments: [id]) ?? 0
            return DataElement(Tag(0, 0), .IS, string: String(n))
        }
        func list(_ sql: String, _ id: Int64?) throws -> DataElement? {
            guard let id else { return nil }
            let values = try String.fetchAll(db, sql: sql, arguments: [id]).filter { !$0.isEmpty }
            return DataElement(Tag(0, 0), .CS, string: values.sorted().joined(separator: "\\"))
        }
        for key in query.keys {
            guard let level = QueryKeys.computed[key.tag], level <= query.level else { continue }
            var element: DataElement?
            switch key.tag {
            case QueryKeys.numberOfPatientRelatedStudies:
                element = try count("SELECT COUNT(*) FROM study WHERE patient = ?", record.patientID)
            case QueryKeys.numberOfPatientRelatedSeries:
                element = try count(
                    "SELECT COUNT(*) FROM series r JOIN study s ON r.study = s.id WHERE s.patient = ?",
                    record.patientID)
            case QueryKeys.numberOfPatientRelatedInstances:
                element = try count(
                    """
                    SELECT COUNT(*) FROM instance i JOIN series r ON i.series = r.id JOIN study s ON r.study = s.id
                    WHERE s.patient = ?
                    """, record.patientID)
            case QueryKeys.numberOfStudyRelatedSeries:
                element = try count("SELECT COUNT(*) FROM series WHERE study = ?", record.studyID)
            case QueryKeys.numberOfStudyRelatedInstances:
                element = try count(
                    "SELECT COUNT(*) FROM instance i JOIN series r ON i.series = r.id WHERE r.study = ?", record.studyID
                )
            case QueryKeys.numberOfSeriesRelatedInstances:
                element = try count("SELECT COUNT(*) FROM instance WHERE series = ?", record.seriesID)
            case QueryKeys.modalitiesInStudy:
                element = try list("SELECT DISTINCT modality FROM series WHERE study = ?", record.studyID)
            case QueryKeys.sopClassesInStudy:
                element = try list(
                    "SELECT DISTINCT i.sop_class FROM instance i JOIN series r ON i.series = r.id WHERE r.study = ?",
                    record.studyID)
                element?.vr = .UI
            case QueryKeys.availableTransferSyntaxUID:
                if let id = record.instanceID {
                    let uid = try String.fetchOne(
                        db, sql: "SELECT transfer_syntax FROM instance WHERE id = ?", arguments: [id])
                    element = DataElement(Tag(0, 0), .UI, string: uid ?? "")
                }
            default: break
            }
            if var e = element {
                e.tag = key.tag
                record.computed[key.tag] = e
            }
        }
    }

    /// The response identifier (PS3.4 C.4.1.1.3.2): the level, the character set of the
    /// record, the retrieve AE title, the unique keys down to the query level, and every key
    /// asked for at or above it, with the record's value or empty.
    static func response(_ record: Record, _ query: Query, _ db: Database, _ retrieveAETitle: String?) throws -> DataSet
    {
        var ds = DataSet()
        let charset = record.charsets[query.level] ?? .ascii
        if !charset.terms.isEmpty { ds.set(QueryKeys.specificCharacterSet, .CS, charset.description) }
        ds.set(QueryKeys.queryRetrieveLevel, .CS, query.level.rawValue)
        if let retrieveAETitle { ds.set(QueryKeys.retrieveAETitle, .AE, retrieveAETitle) }
        for level in query.model.levels where level <= query.level {
            let unique = level.uniqueKey
            if let e = record.parts[QueryKeys.level(of: unique)]?[unique] { ds[unique] = e }
        }
        for key in query.keys {
            guard query.level(of: key.tag) <= query.level else { continue }
            let (value, _) = value(key.tag, in: record, query: query)
            if var v = value {
                v.sourceLength = nil
                v.sourceOffset = nil
                ds[key.tag] = v
            } else if ds[key.tag] == nil {
                ds[key.tag] =
                    key.vr == .SQ
                    ? DataElement(tag: key.tag, vr: .SQ, value: .sequence([])) : DataElement(key.tag, key.vr, bytes: [])
            }
        }
        return ds
    }
}
