extension Job {
    /// `schedule:` of a job file: the windows (local time) in which `ferry run` sends, and
    /// what a run does when one closes (or when it starts outside them).
    public struct ScheduleSetting: Codable, Sendable, Equatable {
        public var windows: [String] = []
        public var outside = OutsideWindow.exit

        enum CodingKeys: String, CodingKey, CaseIterable { case windows, outside }
        public init(windows: [String], outside: OutsideWindow = .exit) {
            self.windows = windows
            self.outside = outside
        }
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            windows = try c.decode([String].self, forKey: .windows)
            outside = try c.decodeIfPresent(OutsideWindow.self, forKey: .outside) ?? .exit
        }
    }
}

/// What `ferry run` does outside its windows.
public enum OutsideWindow: String, JobWord {
    /// Exit with status 4 (a cron job or systemd timer starts it again in the next window).
    case exit
    /// Wait for the next window, then go on.
    case wait
}
