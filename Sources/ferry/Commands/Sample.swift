import ArgumentParser
import FerrySample

struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a small synthetic archive (CT, MR, US; every uncompressed transfer syntax).")

    @Option(help: "Seed for the deterministic content.")
    var seed: UInt64 = 1515

    @Argument(help: "Output directory.")
    var outputDirectory: String

    func run() throws {
        let paths = try SampleArchive(seed: seed).write(to: outputDirectory)
        print("sample: \(paths.count) files in \(outputDirectory)")
    }
}
