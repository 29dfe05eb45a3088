import FerryDICOM
import FerryServices

/// What a pull job asks its source for (`source.query`): a Study Date range, the width of the
/// first slices, modalities, patients, and the most answers the source gives to one query.
/// Dates are YYYYMMDD; nothing given means everything the source holds.
public struct PullQuery: Sendable, Equatable {
    public var from: String?
    public var to: String?
    /// Days per first slice (`slice: 1d`); nil: the whole range at once, halved when capped.
    public var sliceDays: Int?
    public var modalities: [String] = []
    public var patientIDs: [String] = []
    /// A query answered with this many studies is taken as capped (sources that cut their
    /// answers silently); nil: only a final FE00 or A7xx tells.
    public var maxAnswers: Int?

    public init() {}
}

/// A study the source lists, with what it says of it.
public struct InventoriedStudy: Sendable, Equatable {
    public var uid: String
    public var patientID: String
    public var date: String
    /// NumberOfStudyRelatedInstances, when the source gives it.
    public var instances: Int?
    public var modalities: String
}

/// Lists a Q/R source's studies by C-FIND at STUDY level (Study Root) without missing any to
/// the source's answer cap: a query whose answers were capped (a final FE00 or A7xx to a
/// query never cancelled, or `maxAnswers` answers) is asked again as two halves of its Study
/// Date range, down to one day, then as halves of the day's Study Time, down to a minute; what
/// is still capped there is reported as a gap, never passed over in silence. Without a date
/// range one universal query is tried first (it also finds studies without a Study Date); if
/// it is capped, the dates from 1900 to `today` are walked. Studies are reported once each.
public struct StudyInventory: Sendable {
    /// A C-FIND: the keys, each answer's identifier handed over as it comes; true when capped.
    public typealias Find = ([(Tag, VR, String)], (DataSet) -> Void) async throws -> Bool

    public struct Outcome: Sendable, Equatable {
        public var studies = 0
        public var queries = 0
        /// Windows still capped at their narrowest, in words.
        public var gaps: [String] = []
    }

    public let query: PullQuery
    /// The last day walked when the query gives no end (YYYYMMDD).
    public let today: String

    public init(_ query: PullQuery, today: String) {
        self.query = query
        self.today = today
    }

    /// A window of the walk: days (inclusive) and, within one day, seconds (inclusive).
    struct Window: Equatable {
        var days: ClosedRange<Int>?
        var seconds: ClosedRange<Int>?
    }

    public func run(find: Find, each: (InventoriedStudy) -> Void) async throws -> Outcome {
        var outcome = Outcome()
        var seen = Set<String>()
        for patient in query.patientIDs.isEmpty ? [nil] : query.patientIDs.map(Optional.some) {
            for modality in query.modalities.isEmpty ? [nil] : query.modalities.map(Optional.some) {
                var pending = try firstWindows()
                if query.from == nil, query.to == nil {
                    // One universal query first: it alone lists studies without a Study Date.
                    let (answers, capped) = try await ask(Window(), patient, modality, find, &outcome)
                    if !capped {
                        emit(answers, &seen, &outcome, each)
                        continue
                    }
                    outcome.gaps.append(
                        "\(scope(patient, modality))the source caps its answers: studies without a Study Date cannot be listed"
                    )
                }
                while let window = pending.popLast() {
                    let (answers, capped) = try await ask(window, patient, modality, find, &outcome)
                    if !capped {
                        emit(answers, &seen, &outcome, each)
                    } else if let halves = Self.split(window) {
                        pending += [halves.1, halves.0]  // earlier half first
                    } else {
                        emit(answers, &seen, &outcome, each)
                        outcome.gaps.append("\(scope(patient, modality))\(describe(window)): still capped")
                    }
                }
            }
        }
        return outcome
    }

    /// The walk's first windows, latest last (taken from the end).
    private func firstWindows() throws -> [Window] {
        let first = try Day.number(query.from ?? "19000101")
        let last = try Day.number(query.to ?? today)
        guard first <= last else { return [] }
        let width = max(1, query.sliceDays ?? (last - first + 1))
        return stride(from: first, through: last, by: width).map { Window(days: $0...min(last, $0 + width - 1)) }
            .reversed()
    }

    /// Two halves of a window: of its days, else of its day's time; nil at a minute.
    static func split(_ w: Window) -> (Window, Window)? {
        if let days = w.days, days.count > 1 {
            let mid = days.lowerBound + (days.count - 1) / 2
            return (Window(days: days.lowerBound...mid), Window(days: (mid + 1)...days.upperBound))
        }
        guard w.days != nil else { return nil }
        let seconds = w.seconds ?? 0...86399
        guard seconds.count > 60 else { return nil }
        let mid = seconds.lowerBound + (seconds.count - 1) / 2
        return (
            Window(days: w.days, seconds: seconds.lowerBound...mid),
            Window(days: w.days, seconds: (mid + 1)...seconds.upperBound)
        )
    }

    private func ask(
        _ window: Window, _ patient: String?, _ modality: String?, _ find: Find, _ outcome: inout Outcome
    ) async throws -> ([InventoriedStudy], Bool) {
        var date = ""
        if let days = window.days {
            let (a, b) = (Day.text(days.lowerBound), Day.text(days.upperBound))
            date = a == b ? a : "\(a)-\(b)"
        }
        let time = window.seconds.map { "\(Self.clock($0.lowerBound))-\(Self.clock($0.upperBound))" } ?? ""
        var answers: [InventoriedStudy] = []
        var count = 0
        outcome.queries += 1
        let capped = try await find([
            (QueryKeys.queryRetrieveLevel, .CS, "STUDY"), (QueryKeys.studyInstanceUID, .UI, ""),
            (QueryKeys.patientID, .LO, patient ?? ""), (QueryKeys.studyDate, .DA, date),
            (QueryKeys.studyTime, .TM, time), (QueryKeys.modalitiesInStudy, .CS, modality ?? ""),
            (QueryKeys.numberOfStudyRelatedInstances, .IS, ""),
        ]) { answer in
            count += 1
            guard let uid = answer.string(QueryKeys.studyInstanceUID), !uid.isEmpty, uid.utf8.count <= 64 else {
                return
            }
            answers.append(
                InventoriedStudy(
                    uid: uid, patientID: answer.string(QueryKeys.patientID) ?? "",
                    date: answer.string(QueryKeys.studyDate) ?? "",
                    instances: answer.string(QueryKeys.numberOfStudyRelatedInstances).flatMap { Int($0) },
                    modalities: answer.string(QueryKeys.modalitiesInStudy) ?? ""))
        }
        return (answers, capped || query.maxAnswers.map { count >= $0 } ?? false)
    }

    private func emit(
        _ answers: [InventoriedStudy], _ seen: inout Set<String>, _ outcome: inout Outcome,
        _ each: (InventoriedStudy) -> Void
    ) {
        for study in answers where seen.insert(study.uid).inserted {
            outcome.studies += 1
            each(study)
        }
    }

    private func scope(_ patient: String?, _ modality: String?) -> String {
        (patient.map { "patient \($0.escapedForLog()), " } ?? "") + (modality.map { "modality \($0), " } ?? "")
    }

    private func describe(_ w: Window) -> String {
        guard let days = w.days else { return "every date" }
        let day =
            days.count == 1 ? Day.text(days.lowerBound) : "\(Day.text(days.lowerBound))-\(Day.text(days.upperBound))"
        return day + (w.seconds.map { " \(Self.clock($0.lowerBound))-\(Self.clock($0.upperBound))" } ?? "")
    }

    static func clock(_ second: Int) -> String {
        let (h, m, s) = (second / 3600, second / 60 % 60, second % 60)
        return [h, m, s].map { $0 < 10 ? "0\($0)" : "\($0)" }.joined()
    }
}

/// Days as numbers (days since 1970-01-01, proleptic Gregorian), so date ranges split in
/// halves; from and to YYYYMMDD.
enum Day {
    struct Invalid: Error, CustomStringConvertible {
        let text: String
        var description: String { "\"\(text)\" is not a date (YYYYMMDD or YYYY-MM-DD)" }
    }

    static func number(_ text: String) throws(Invalid) -> Int {
        let digits = text.filter { $0 != "-" }
        guard digits.count == 8, digits.allSatisfy(\.isASCII), let v = Int(digits) else { throw Invalid(text: text) }
        let (y, m, d) = (v / 10000, v / 100 % 100, v % 100)
        guard (1...12).contains(m), (1...31).contains(d), y >= 1 else { throw Invalid(text: text) }
        // Days from civil (H. Hinnant's algorithm).
        let yy = m <= 2 ? y - 1 : y
        let era = yy / 400
        let yoe = yy - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func text(_ n: Int) -> String {
        let z = n + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let pad = { (v: Int, w: Int) in String(repeating: "0", count: max(0, w - String(v).count)) + String(v) }
        return pad(y, 4) + pad(m, 2) + pad(d, 2)
    }
}
