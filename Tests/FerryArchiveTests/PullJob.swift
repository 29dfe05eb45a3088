/// A pull job's file for the tests: `pull.yaml` in `dir`, with its manifest beside it. The
/// source is a Q/R SCP on loopback, the destination a storage SCP; `sourceLines` are further
/// keys of `source:` (receiver, max_retrieves...), `transfer` the flow map of `transfer:`.
enum PullJob {
    static func write(
        in dir: String, source: Int, called: String = "QRSCP", retrieve: String? = nil, destination: Int,
        destinationAE: String = "STORESCP", sourceLines: [String] = [], transfer: String? = nil
    ) throws {
        var lines = ["name: pull", "source:", "  pacs: {port: \(source), called_ae: \(called)}"]
        if let retrieve { lines.append("  retrieve: \(retrieve)") }
        lines += sourceLines.map { "  " + $0 }
        lines.append("destination: {port: \(destination), called_ae: \(destinationAE)}")
        if let transfer { lines.append("transfer: \(transfer)") }
        lines.append("manifest: \(dir)/pull.sqlite")
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/pull.yaml", atomically: true, encoding: .utf8)
    }
}
