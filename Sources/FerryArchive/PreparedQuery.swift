import FerryDICOM
import FerryServices

/// A C-FIND, C-MOVE or C-GET identifier made ready to match index records: its keys read
/// once for the whole request (their text decoded, UID lists as sets), the keys of levels
/// below the query's set aside, and the date/time pairs joined when combined date-time
/// matching was negotiated.
public struct PreparedQuery: Sendable {
    public let query: Query
    /// The keys matched one by one: of the query's level and above, outside combined pairs.
    let keys: [AttributeMatcher.PreparedKey]
    /// Date and time keys matched as one date-time (PS3.4 C.2.2.2.5.1).
    let combined: [(date: Tag, time: Tag, dateText: String, timeText: String)]
    let matcher: AttributeMatcher

    public init(_ query: Query, matcher: AttributeMatcher) {
        self.query = query
        self.matcher = matcher
        var combined: [(Tag, Tag, String, String)] = []
        if query.combinedDateTime {
            for pair in Query.dateTimePairs {
                guard let d = query.key(pair.date)?.string, let t = query.key(pair.time)?.string,
                    query.level(of: pair.date) <= query.level, !d.isEmpty, !t.isEmpty
                else { continue }
                combined.append((pair.date, pair.time, d, t))
            }
        }
        let joined = Set(combined.flatMap { [$0.0, $0.1] })
        keys = query.keys.compactMap { key in
            guard query.level(of: key.tag) <= query.level, !joined.contains(key.tag) else { return nil }
            return matcher.prepare(key, charset: query.charset)
        }
        self.combined = combined
    }

    /// Every key matches the record (C.2.2.2); keys of levels below the query's are not
    /// matched (they cannot be answered), and Specific Character Set is never matched.
    func matches(_ record: ArchiveIndex.Record) -> Bool {
        for pair in combined {
            let (date, _) = ArchiveIndex.value(pair.date, in: record, query: query)
            let (time, _) = ArchiveIndex.value(pair.time, in: record, query: query)
            guard let day = date?.string, !day.isEmpty else { return false }
            let moment = day + (time?.string ?? "")
            if !AttributeMatcher.matchesCombined(date: pair.dateText, time: pair.timeText, value: moment) {
                return false
            }
        }
        for key in keys {
            let (candidate, charset) = ArchiveIndex.value(key.tag, in: record, query: query)
            if !matcher.matches(key, candidate: candidate, candidateCharset: charset) { return false }
        }
        return true
    }
}
