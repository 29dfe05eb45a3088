import FerryDICOM
import Logging

/// DCMTK-style console logging to stderr: one line per message, prefixed F/E/W/I/D/T.
struct ConsoleLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let prefix: String =
            switch event.level {
            case .critical: "F"
            case .error: "E"
            case .warning: "W"
            case .notice, .info: "I"
            case .debug: "D"
            case .trace: "T"
            }
        // One line per message: every control character is escaped (a line break too),
        // whatever value brought it in, so no peer's text forges a line or reaches the
        // terminal as an escape sequence. Dumps are logged a line at a time (`Logger.lines`).
        FileHandleWriter.stderr("\(prefix): \("\(event.message)".escapedForLog(keeping: ["\t"]))\n")
    }

    static func logger(_ label: String, level: Logger.Level) -> Logger {
        var l = Logger(label: label) { _ in ConsoleLogHandler(logLevel: level) }
        l.logLevel = level
        return l
    }

    /// DCMTK's -ll names.
    static func level(named name: String) -> Logger.Level? {
        switch name {
        case "fatal": .critical
        case "error": .error
        case "warn": .warning
        case "info": .info
        case "debug": .debug
        case "trace": .trace
        default: nil
        }
    }
}
