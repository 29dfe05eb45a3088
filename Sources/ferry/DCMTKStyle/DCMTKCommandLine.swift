import FerryDICOM
import NIOCore

/// One option of a DCMTK-style tool: `-aet`/`--aetitle` with its value names.
struct OptionSpec: Sendable {
    var short: String?
    var long: String
    var values: [String] = []
    var help: String
    var group: String
    /// The values are secrets (passwords): never printed, scrubbed from the process arguments.
    var isSecret: Bool { Self.secrets.contains(long) }
    static let secrets: Set<String> = ["--password", "--use-passwd"]

    init(_ short: String?, _ long: String, _ values: [String] = [], _ help: String, group: String) {
        self.short = short
        self.long = long
        self.values = values
        self.help = help
        self.group = group
    }
}

/// An option with what it does: applied to the tool's settings `Settings` in command-line
/// order. An option cannot be declared without its handler, nor handled without being declared.
struct DCMTKOption<Settings>: Sendable {
    /// Throws a `CommandLineError` for a bad value (other errors are reported as one).
    typealias Handler = @Sendable (inout Settings, ParsedOption) throws -> Void
    var spec: OptionSpec
    var apply: Handler

    init(
        _ short: String?, _ long: String, _ values: [String] = [], _ help: String, group: String,
        apply: @escaping Handler
    ) {
        self.spec = OptionSpec(short, long, values, help, group: group)
        self.apply = apply
    }

    init(spec: OptionSpec, apply: @escaping Handler) {
        self.spec = spec
        self.apply = apply
    }

    /// The same option shown under another heading (a tool borrowing another's options).
    func regrouped(_ group: String) -> Self {
        var copy = self
        copy.spec.group = group
        return copy
    }
}

extension Array {
    /// Options of a part of a tool's settings (the shared ones), acting on that part.
    func lifted<Part, Whole>(_ path: WritableKeyPath<Whole, Part> & Sendable) -> [DCMTKOption<Whole>]
    where Element == DCMTKOption<Part> {
        map { option in
            let apply = option.apply
            return DCMTKOption<Whole>(spec: option.spec) { whole, parsed in try apply(&whole[keyPath: path], parsed) }
        }
    }
}

struct ParsedOption {
    var spec: OptionSpec
    var values: [String]
}

struct CommandLineError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// DCMTK's command line conventions (ofconapp/ofcmdln): options start with '-' or '+', have a
/// short and a long spelling and a fixed number of values; order is free and, for mutually
/// exclusive options, the rightmost wins (the tools apply options in order); `@file` arguments
/// are replaced by the whitespace-separated words of the file first (no nesting).
/// swift-argument-parser cannot read `+` options, hence this small parser of our own.
struct DCMTKCommandLine<Settings>: Sendable {
    var tool: String
    var synopsis: String
    var parameters: [(name: String, help: String)]
    var options: [DCMTKOption<Settings>]
    var specs: [OptionSpec] { options.map(\.spec) }

    /// Applies the options to `settings` in order; returns the parameters.
    func parse(_ arguments: [String], into settings: inout Settings) throws(CommandLineError) -> [String] {
        let (parsed, parameters) = try split(arguments)
        for o in parsed {
            guard let option = options.first(where: { $0.spec.long == o.spec.long }) else { continue }
            do { try option.apply(&settings, o) } catch let error as CommandLineError { throw error } catch {
                throw CommandLineError(message: "\(o.spec.long): \(error)")
            }
        }
        return parameters
    }

    func split(_ arguments: [String]) throws(CommandLineError) -> (options: [ParsedOption], parameters: [String]) {
        let args = try Self.expandCommandFiles(arguments)
        var options: [ParsedOption] = []
        var params: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            guard a.count > 1, a.first == "-" || a.first == "+", !(a.dropFirst().first?.isNumber ?? false) else {
                params.append(a)
                continue
            }
            guard let spec = specs.first(where: { $0.short == a || $0.long == a }) else {
                throw CommandLineError(message: "unknown option \(a)")
            }
            guard i + spec.values.count <= args.count else {
                throw CommandLineError(
                    message: "missing value for option \(a) (\(spec.values.joined(separator: ", ")))")
            }
            options.append(ParsedOption(spec: spec, values: Array(args[i..<i + spec.values.count])))
            i += spec.values.count
        }
        return (options, params)
    }

    static func expandCommandFiles(_ args: [String]) throws(CommandLineError) -> [String] {
        var out: [String] = []
        for a in args {
            guard a.hasPrefix("@"), a.count > 1 else { out.append(a); continue }
            let path = String(a.dropFirst())
            guard let bytes = try? FileBytes.readAll(path) else {
                throw CommandLineError(message: "cannot read command file \(path)")
            }
            out += words(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    /// Whitespace-separated words; double quotes keep spaces inside one word.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var inWord = false
        for c in text {
            if c == "\"" { quoted.toggle(); inWord = true; continue }
            if !quoted && (c == " " || c == "\t" || c == "\n" || c == "\r") {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(c)
            inWord = true
        }
        if inWord { words.append(current) }
        return words
    }

    var help: String {
        var lines = [
            "\(tool): \(synopsis)", "usage: ferry \(tool) [options] \(parameters.map(\.name).joined(separator: " "))",
            "", "parameters:",
        ]
        for p in parameters { lines.append("  " + pad(p.name, 29) + p.help) }
        var group = ""
        for s in specs {
            if s.group != group {
                group = s.group
                lines.append("\(group):")
            }
            let name = "  " + pad(s.short ?? "", 6) + " " + s.long
            let value = s.values.isEmpty ? "" : " " + s.values.joined(separator: " ")
            let head = name + value
            let helpLines = s.help.split(separator: "\n")
            if head.count < 34 {
                lines.append(pad(head, 35) + (helpLines.first.map(String.init) ?? ""))
            } else {
                lines.append(head)
                lines.append(String(repeating: " ", count: 35) + (helpLines.first.map(String.init) ?? ""))
            }
            for more in helpLines.dropFirst() { lines.append(String(repeating: " ", count: 35) + more) }
        }
        return lines.joined(separator: "\n")
    }

    /// --help, --version and --arguments, which every tool answers the same way. True when
    /// the tool has nothing more to do (help or version printed).
    func answeredGeneralOptions(
        help: Bool, version: Bool, printArguments: Bool, arguments: [String],
        exitCodes: String, versionLine: String
    ) throws(CommandLineError) -> Bool {
        if help { print(self.help + "\n\n" + exitCodes); return true }
        if version { print(versionLine); return true }
        if printArguments {
            print("expanded command line arguments:\n" + (try printable(arguments)).joined(separator: " "))
        }
        return false
    }

    /// The expanded arguments with the values of secret options (passwords) masked.
    func printable(_ arguments: [String]) throws(CommandLineError) -> [String] {
        var out = try Self.expandCommandFiles(arguments)
        var i = 0
        while i < out.count {
            if let spec = specs.first(where: { $0.isSecret && ($0.short == out[i] || $0.long == out[i]) }) {
                for j in (i + 1)..<min(out.count, i + 1 + spec.values.count) { out[j] = "****" }
                i += spec.values.count
            }
            i += 1
        }
        return out
    }

    /// DCMTK's answer to a command line error: the message, a pointer to --help, exit code 1.
    func usageError(_ error: Error) -> Int32 {
        FileHandleWriter.stderr("\(tool): \(error)\nTry 'ferry \(tool) --help' for more information.\n")
        return 1
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
    }
}

/// A TCP port parameter.
func dcmtkPort(_ text: String) throws(CommandLineError) -> Int {
    guard let port = Int(text), (1...65535).contains(port) else {
        throw CommandLineError(message: "invalid port number: \(text)")
    }
    return port
}

extension ParsedOption {
    /// A duration in seconds: DCMTK's whole seconds, or a decimal fraction ("0.25") so that
    /// tests and impatient users can wait for milliseconds.
    func seconds(_ index: Int = 0, in range: ClosedRange<Double>) throws(CommandLineError) -> TimeAmount {
        guard let v = Double(values[index]), v.isFinite else {
            throw CommandLineError(message: "\(spec.long): \"\(values[index])\" is not a number of seconds")
        }
        guard range.contains(v) else {
            throw CommandLineError(
                message: "\(spec.long): \(values[index]) is not in \(range.lowerBound)..\(range.upperBound) seconds")
        }
        return .milliseconds(Int64((v * 1000).rounded()))
    }

    func int(_ index: Int = 0, in range: ClosedRange<Int>? = nil) throws(CommandLineError) -> Int {
        guard let v = Int(values[index]) else {
            throw CommandLineError(message: "\(spec.long): \"\(values[index])\" is not an integer")
        }
        if let r = range, !r.contains(v) {
            throw CommandLineError(message: "\(spec.long): \(v) is not in \(r.lowerBound)..\(r.upperBound)")
        }
        return v
    }
}
