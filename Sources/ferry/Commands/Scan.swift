import ArgumentParser
import FerryDICOM
import Foundation

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the headers of files (not their pixel data) and print one summary a file.")

    @Flag(help: "Print JSON lines instead of a table.")
    var json = false

    @Flag(name: .customLong("no-recurse"), help: "Do not descend into subdirectories.")
    var noRecurse = false

    @Flag(help: "Follow symbolic links inside directories.")
    var followLinks = false

    @Argument(help: "Files or directories.")
    var paths: [String]

    func run() throws {
        let walker = DirectoryWalker(recursive: !noRecurse, symlinks: followLinks ? .follow : .skip)
        let files = walker.files(under: paths) { printError("E: \($0)") }
        let results = ParallelScan.summaries(files)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var failed = 0
        for (path, result) in zip(files, results) {
            switch result {
            case .success(let s):
                if json {
                    print(String(decoding: try encoder.encode(s), as: UTF8.self))
                } else {
                    let sop = s.sopClassUID.map { UIDRegistry.entry(for: $0)?.keyword ?? $0 } ?? "-"
                    let ts = UIDRegistry.entry(for: s.transferSyntaxUID)?.keyword ?? s.transferSyntaxUID
                    let size = s.pixel.map { "\($0.columns)x\($0.rows)x\($0.numberOfFrames)" } ?? "-"
                    print(
                        "\(path)\t\(sop)\t\(ts)\t\(s.sopInstanceUID ?? "-")\t\(s.patientID ?? "-")\t\(s.modality ?? "-")\t\(size)"
                    )
                }
            case .failure(let e):
                failed += 1
                if json {
                    let record = ["path": path, "error": e.code.rawValue, "message": e.detail]
                    print(String(decoding: try encoder.encode(record), as: UTF8.self))
                } else {
                    print("\(path)\tERROR\t\(e.code)\t\(e.detail)")
                }
            }
        }
        printError("scan: \(files.count) files, \(files.count - failed) readable, \(failed) with errors")
        if failed > 0 { throw ExitCode(.someFailed) }
    }
}
