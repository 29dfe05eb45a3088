import ArgumentParser

@main
struct Ferry: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferry",
        abstract: "Bulk DICOM transfer and archive migration.",
        version: "0.1.0",
        subcommands: [Dump.self, Scan.self, Sample.self]
    )
}
