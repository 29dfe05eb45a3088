import FerryDICOM
import Foundation

extension Job.Source {
    /// A Q/R SCP to pull from (`source.pacs`), with the destination's fields.
    public struct PACS: Codable, Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 104
        public var calledAE = "ANY-SCP"
        public var callingAE = "FERRY"
        public var tls: Job.Destination.TLS?
        public var user: Job.Destination.UserIdentitySetting?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port, calledAE = "called_ae", callingAE = "calling_ae", tls, user
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 104
            calledAE = try c.decodeIfPresent(String.self, forKey: .calledAE) ?? "ANY-SCP"
            callingAE = try c.decodeIfPresent(String.self, forKey: .callingAE) ?? "FERRY"
            tls = try c.decodeIfPresent(Job.Destination.TLS.self, forKey: .tls)
            user = try c.decodeIfPresent(Job.Destination.UserIdentitySetting.self, forKey: .user)
        }
    }

    /// What is pulled (`source.query`): all optional, nothing given means everything the
    /// source holds. Dates as YYYY-MM-DD or YYYYMMDD; `slice` as Nd, Nw, Nm (30 days) or Ny.
    public struct PullQuerySetting: Codable, Sendable, Equatable {
        public var from: String?
        public var to: String?
        public var slice: String?
        public var modalities: [String] = []
        public var patientIDs: [String] = []
        public var maxAnswers: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case from, to, slice, modalities, patientIDs = "patient_ids", maxAnswers = "max_answers"
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            from = try c.decodeIfPresent(String.self, forKey: .from)
            to = try c.decodeIfPresent(String.self, forKey: .to)
            slice = try c.decodeIfPresent(String.self, forKey: .slice)
            modalities = try c.decodeIfPresent([String].self, forKey: .modalities) ?? []
            patientIDs = try c.decodeIfPresent([String].self, forKey: .patientIDs) ?? []
            maxAnswers = try c.decodeIfPresent(Int.self, forKey: .maxAnswers)
        }

        /// The query the inventory walks, or the first setting that does not read.
        public func pullQuery() throws -> PullQuery {
            var q = PullQuery()
            do {
                q.from = try from.map { Day.text(try Day.number($0)) }
                q.to = try to.map { Day.text(try Day.number($0)) }
            } catch { throw MigrationError.invalidJob("source.query: \(error)") }
            if let a = q.from, let b = q.to, a > b {
                throw MigrationError.invalidJob("source.query: from \(a) is after to \(b)")
            }
            if let slice {
                guard let days = Self.days(slice) else {
                    throw MigrationError.invalidJob(
                        "source.query: slice \"\(slice)\" is not a duration (Nd, Nw, Nm or Ny: days, weeks, 30-day months, years)"
                    )
                }
                q.sliceDays = days
            }
            if let maxAnswers, maxAnswers < 1 {
                throw MigrationError.invalidJob("source.query: max_answers must be at least 1")
            }
            (q.modalities, q.patientIDs, q.maxAnswers) = (modalities, patientIDs, maxAnswers)
            return q
        }

        static func days(_ text: String) -> Int? {
            guard let unit = text.last, let n = Int(text.dropLast()), (1...100_000).contains(n) else { return nil }
            switch unit {
            case "d": return n
            case "w": return n * 7
            case "m": return n * 30
            case "y": return n * 365
            default: return nil
            }
        }
    }

    /// How instances come from a PACS source (`source.retrieve`).
    public enum Retrieve: String, Codable, Sendable, CaseIterable {
        /// C-MOVE to Ferry's own storage SCP (`source.receiver`).
        case move
        /// C-GET on Ferry's association.
        case get
        /// C-MOVE from the source straight to the destination; Ferry orchestrates and verifies.
        case moveDirect = "move-direct"
    }

    /// Keeping a pull in sync until cutover (`source.follow`): every `interval` (`Ns`, `Nm`
    /// minutes, `Nh`, or seconds alone) the studies of the trailing `window` of Study Dates
    /// (`Nd`, `Nw`, `Nm` 30 days, `Ny`; default 7d) are inventoried again; new studies, and
    /// studies whose source count changed, are listed again and what they hold that was not
    /// received is pulled.
    public struct Follow: Codable, Sendable, Equatable {
        public var interval: String
        public var window: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case interval, window }
        public init(interval: String, window: String? = nil) {
            self.interval = interval
            self.window = window
        }
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            interval = try c.decode(String.self, forKey: .interval)
            window = try c.decodeIfPresent(String.self, forKey: .window)
        }

        /// The interval in seconds, or nil when it does not read.
        public var seconds: Double? {
            let units: [(String, Double)] = [("s", 1), ("m", 60), ("h", 3600)]
            for (unit, scale) in units where interval.hasSuffix(unit) {
                return Double(interval.dropLast()).flatMap { $0 > 0 && $0 <= 86_400 * 7 / scale ? $0 * scale : nil }
            }
            return Double(interval).flatMap { $0 > 0 && $0 <= 86_400 * 7 ? $0 : nil }
        }

        /// The trailing window in days.
        public var windowDays: Int? { PullQuerySetting.days(window ?? "7d") }
    }

    /// Ferry's storage SCP for C-MOVE (`source.receiver`): its AE title (the source must know
    /// it as a move destination), port, staging folder and the most it may hold.
    public struct Receiver: Codable, Sendable, Equatable {
        public var ae = "FERRY"
        public var port = 11113
        public var staging: String?
        public var maxStaging: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case ae, port, staging, maxStaging = "max_staging" }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            ae = try c.decodeIfPresent(String.self, forKey: .ae) ?? "FERRY"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 11113
            staging = try c.decodeIfPresent(String.self, forKey: .staging)
            maxStaging = try c.decodeIfPresent(String.self, forKey: .maxStaging)
        }
    }
}

extension Job {
    /// The job as one `--follow` pass inventories it: its query from the first day of the
    /// trailing window (or its own `from`, if later); nil when its `to` ends before the window.
    public func followPass(days: Int, today: Date = Date()) -> Job? {
        var job = self
        var query = source.query ?? Source.PullQuerySetting()
        var from = Int(today.timeIntervalSince1970 / 86400) - days + 1
        if let own = query.from, let day = try? Day.number(own) { from = max(from, day) }
        if let to = query.to, let end = try? Day.number(to), end < from { return nil }
        query.from = Day.text(from)
        job.source.query = query
        return job
    }

    /// Whether the job pulls from a Q/R SCP rather than reading files.
    public var pulls: Bool { source.pacs != nil }
    /// A `move-direct` pull: the source moves to the destination, Ferry sends nothing.
    public var moves: Bool { pulls && source.retrieve == .moveDirect }

    /// What a pull job needs; names the first problem.
    func validatePull() throws {
        guard let pacs = source.pacs else { return }
        if !source.paths.isEmpty {
            throw MigrationError.invalidJob("job \(name): source has both paths and pacs; a job reads one source")
        }
        guard (1...65535).contains(pacs.port) else {
            throw MigrationError.invalidJob("job \(name): source.pacs port \(pacs.port)")
        }
        for (what, ae) in [("source.pacs called_ae", pacs.calledAE), ("source.pacs calling_ae", pacs.callingAE)] {
            guard !ae.isEmpty, ae.utf8.count <= 16 else {
                throw MigrationError.invalidJob("job \(name): \(what) must be 1 to 16 characters")
            }
        }
        _ = try (source.query ?? Source.PullQuerySetting()).pullQuery()
        guard (1...16).contains(source.maxRetrieves) else {
            throw MigrationError.invalidJob("job \(name): source.max_retrieves must be 1...16")
        }
        if let follow = source.follow {
            guard follow.seconds != nil else {
                throw MigrationError.invalidJob(
                    "job \(name): source.follow interval \"\(follow.interval)\" is not a duration (Ns, Nm, Nh or seconds; at most a week)"
                )
            }
            guard follow.windowDays != nil else {
                throw MigrationError.invalidJob(
                    "job \(name): source.follow window \"\(follow.window ?? "")\" is not a duration (Nd, Nw, Nm or Ny)")
            }
        }
        if let receiver = source.receiver {
            guard (1...65535).contains(receiver.port) else {
                throw MigrationError.invalidJob("job \(name): source.receiver port \(receiver.port)")
            }
            if let size = receiver.maxStaging, ByteCount.parse(size) == nil {
                throw MigrationError.invalidJob(
                    "job \(name): source.receiver max_staging \"\(size)\" is not a size (bytes, or a number and K, M, G or T)"
                )
            }
        }
    }
}
