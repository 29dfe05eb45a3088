import Foundation

/// When a job may send (`schedule.windows`, local time), e.g. `["Mon-Fri 19:00-06:30",
/// "Sat-Sun"]`: days (a day, a range, or a comma list of either) and optionally a time range;
/// a range ending at or before its start runs past midnight into the next day and belongs to
/// the day it starts. Adjacent or overlapping windows join.
public struct Schedule: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        /// Weekdays as Calendar numbers them (1 Sunday ... 7 Saturday).
        public var days: Set<Int>
        /// Minutes after midnight; nil: the whole day.
        public var start: Int?
        public var end: Int?
    }
    public var windows: [Window]
    public var text: [String]

    static let dayNames = ["sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7]

    public init(_ text: [String]) throws {
        self.text = text
        windows = try text.map(Self.window)
    }

    static func window(_ entry: String) throws -> Window {
        func fail() -> MigrationError {
            MigrationError.invalidJob(
                "schedule window \"\(entry)\": write days (Mon, Mon-Fri, Sat,Sun) and optionally HH:MM-HH:MM")
        }
        let parts = entry.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count) else { throw fail() }
        var days = Set<Int>()
        for item in parts[0].lowercased().split(separator: ",") {
            let ends = item.split(separator: "-")
            guard (1...2).contains(ends.count), let a = dayNames[String(ends[0])],
                let b = dayNames[String(ends.last ?? ends[0])]
            else { throw fail() }
            var d = a
            while true {
                days.insert(d)
                if d == b { break }
                d = d % 7 + 1
            }
        }
        guard parts.count == 2 else { return Window(days: days, start: nil, end: nil) }
        let times = parts[1].split(separator: "-")
        guard times.count == 2, let start = minutes(times[0]), let end = minutes(times[1]) else { throw fail() }
        return Window(days: days, start: start, end: end)
    }

    /// "HH:MM" as minutes after midnight.
    static func minutes(_ text: Substring) -> Int? {
        let hm = text.split(separator: ":")
        guard hm.count == 2, let h = Int(hm[0]), let m = Int(hm[1]), (0...24).contains(h), (0...59).contains(m),
            h * 60 + m <= 24 * 60
        else { return nil }
        return h * 60 + m
    }

    /// The spans of the windows that start on the day of `day` (midnight, local time).
    private func spans(startingOn day: Date, calendar: Calendar) -> [(Date, Date)] {
        let weekday = calendar.component(.weekday, from: day)
        return windows.filter { $0.days.contains(weekday) }.compactMap { w in
            let start = w.start ?? 0
            var end = w.end ?? 24 * 60
            if end <= start { end += 24 * 60 }
            return (day.addingTimeInterval(Double(start) * 60), day.addingTimeInterval(Double(end) * 60))
        }
    }

    private func spans(around date: Date, calendar: Calendar) -> [(Date, Date)] {
        let today = calendar.startOfDay(for: date)
        return (-1...8).flatMap { offset -> [(Date, Date)] in
            guard let day = calendar.date(byAdding: .day, value: offset, to: today) else { return [] }
            return spans(startingOn: calendar.startOfDay(for: day), calendar: calendar)
        }
    }

    /// When the window open at `date` closes (joined with the windows that continue it), or nil
    /// when none is open.
    public func end(ofWindowOpenAt date: Date, calendar: Calendar = .current) -> Date? {
        let all = spans(around: date, calendar: calendar)
        guard var end = all.filter({ $0.0 <= date && date < $0.1 }).map(\.1).max() else { return nil }
        while let later = all.filter({ $0.0 <= end && end < $0.1 }).map(\.1).max() { end = later }
        return end
    }

    /// The next time a window opens after `date` (within a week), or nil.
    public func nextOpening(after date: Date, calendar: Calendar = .current) -> Date? {
        spans(around: date, calendar: calendar).map(\.0).filter { $0 > date }.min()
    }
}
