import FerryDICOM
import FerryNetwork
import Glibc
import Synchronization

/// Study-level state shared by every association of one receiver: the subdirectory of the
/// current study (-ss, -sp), and end-of-study detection (-xcs, -rns, -tos) as DCMTK
/// storescp does it: a study ends when an instance of another study arrives, or after
/// the end-of-study timeout.
public final class StudySorting: Sendable {
    public struct CompletedStudy: Sendable {
        public var uid: String
        public var directory: String
    }

    private struct State {
        var currentStudy: String?
        var currentDirectory: String?
        var lastReception: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    public init() {}

    /// The directory (created if needed, always inside the output directory) for an instance
    /// of `summary`'s study, and the study that ended because this one began, if any.
    func directory(
        for summary: HeaderSummary, options: StoreOutputOptions
    ) throws(ServiceError) -> (String, CompletedStudy?) {
        let study = summary.studyInstanceUID ?? ""
        let (dir, completed): (String, CompletedStudy?) = state.withLock { s in
            var completed: CompletedStudy?
            if let current = s.currentStudy, current != study, let d = s.currentDirectory {
                completed = CompletedStudy(uid: current, directory: d)
            }
            let sameStudy = s.currentStudy == study && s.currentDirectory != nil
            let dir: String
            switch options.sorting {
            case .none:
                dir = options.directory
            case .studyUID(let prefix):
                dir = options.directory + "/" + (prefix.isEmpty ? study : prefix + "_" + study)
            case .concurrentStudies(let prefix):
                dir =
                    sameStudy
                    ? (s.currentDirectory ?? options.directory)
                    : options.directory + "/" + (prefix.isEmpty ? "" : prefix + "_") + Timestamp.now().directoryStamp
            case .patientName:
                dir =
                    sameStudy
                    ? (s.currentDirectory ?? options.directory)
                    : options.directory + "/" + Self.safeName(summary.patientName) + "_"
                        + Timestamp.now().directoryStamp
            }
            s.currentStudy = study
            s.currentDirectory = dir
            s.lastReception = .now
            return (dir, completed)
        }
        if dir != options.directory, mkdir(dir, 0o755) != 0, errno != EEXIST {
            throw ServiceError.outOfResources("cannot create \(dir): " + String(cString: strerror(errno)))
        }
        return (dir, completed)
    }

    /// The current study, if nothing arrived for `timeout` (-tos): it is then complete.
    func expire(after timeout: Duration) -> CompletedStudy? {
        state.withLock { s in
            guard let last = s.lastReception, last.duration(to: .now) >= timeout,
                let study = s.currentStudy, let dir = s.currentDirectory
            else { return nil }
            s.currentStudy = nil
            s.currentDirectory = nil
            s.lastReception = nil
            return CompletedStudy(uid: study, directory: dir)
        }
    }

    /// A patient name usable as a directory name: ASCII letters, digits, '^' and '_' only.
    static func safeName(_ name: String?) -> String {
        let n = (name ?? "").trimmingCharacters(in: " ")
        guard !n.isEmpty else { return "ANONYMOUS" }
        return String(
            n.unicodeScalars.map { s -> Character in
                (s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(Character(s)) || s == "^"))
                    ? Character(s) : "_"
            })
    }
}

/// Wall-clock stamps for DCMTK's directory and file names.
struct Timestamp {
    var year, month, day, hour, minute, second, millisecond: Int

    static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return Timestamp(
            year: Int(tmv.tm_year) + 1900, month: Int(tmv.tm_mon) + 1, day: Int(tmv.tm_mday), hour: Int(tmv.tm_hour),
            minute: Int(tmv.tm_min), second: Int(tmv.tm_sec), millisecond: Int(ts.tv_nsec / 1_000_000))
    }

    private func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, n - s.count)) + s
    }

    /// YYYYMMDD_HHMMSSPPP
    var directoryStamp: String {
        "\(pad(year, 4))\(pad(month, 2))\(pad(day, 2))_\(pad(hour, 2))\(pad(minute, 2))\(pad(second, 2))\(pad(millisecond, 3))"
    }
    /// YYYYMMDDHHMMSSPPP
    var compact: String { directoryStamp.replacingUnderscore }

    private static let counter = Atomic<Int>(0)
    /// A 4-digit serial number, so names made in the same millisecond differ.
    static func serial() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue % 10000
        let s = String(n)
        return String(repeating: "0", count: 4 - s.count) + s
    }
}

private extension String {
    var replacingUnderscore: String { String(filter { $0 != "_" }) }
}
