import Logging

extension Logger {
    /// A message of several lines, logged a line at a time: log sinks escape every control
    /// character of a message (a line break from a peer cannot start a forged log line), so a
    /// dump or a listing is logged as the lines it is.
    public func lines(_ level: Logger.Level, _ header: String, _ lines: some Sequence<some StringProtocol>) {
        guard logLevel <= level else { return }
        log(level: level, "\(header)")
        for line in lines { log(level: level, "\(line)") }
    }
}
