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
        // Line breaks stay (multi-line dumps get a prefix per line); other control characters
        // are escaped, whatever value brought them in.
        let text = "\(event.message)".escapedForLog(keeping: ["\n", "\t"])
        var out = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { out += "\(prefix): \(line)\n" }
        FileHandleWriter.stderr(out)
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
