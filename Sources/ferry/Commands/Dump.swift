import ArgumentParser
import FerryDICOM

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the elements of DICOM files, one a line, like dcmdump.")

    @Flag(name: [.customShort("L"), .customLong("print-all")], help: "Print long values completely (dcmdump +L).")
    var printAll = false

    @Argument(help: "DICOM files.")
    var files: [String]

    func run() throws {
        var failed = 0
        let dump = DataSetDump(maxValues: printAll ? nil : 16)
        for (i, path) in files.enumerated() {
            if files.count > 1 { print("\(i > 0 ? "\n" : "")# \(path)") }
            do {
                let file = try Part10Reader.read(path: path)
                print(dump.lines(file).joined(separator: "\n"))
            } catch {
                failed += 1
                printError("E: \(error)")
            }
        }
        if failed > 0 { throw ExitCode(.someFailed) }
    }
}

func printError(_ s: String) {
    var stderr = StandardError()
    print(s, to: &stderr)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        FileHandleWriter.stderr(string)
    }
}
