import FerryDICOM
import Foundation
import TestSupport

/// A running `ferry qrscp` with one storage area, QRSCP, loaded with `files` by DCMTK dcmsend.
struct QRSCPProcess {
    let peer: PeerProcess
    let directory: String
    /// What `--index-only` printed, when the archive was made by indexing folders in place.
    var indexing: Tools.Output?

    /// `destinations`: move destinations of the HostTable (AE title, port on loopback).
    /// `indexInPlace`: folders indexed with `--index-only` before the archive starts.
    /// `synthetic`: that many instances written into the index by
    /// `scripts/bench/synthetic_index.py` (rows only, for queries: their files do not exist),
    /// the first `sameDay` studies on one day.
    init(
        files: [String], extra: [String] = [], destinations: [(String, Int)] = [], indexInPlace: [String] = [],
        synthetic: Int = 0, sameDay: Int = 0, access: String = "RW", quota: String = "(1000, 1024mb)"
    ) throws {
        directory = try Corpus.temporaryDirectory("qrscp")
        let area = directory + "/QRSCP"
        try FileManager.default.createDirectory(atPath: area, withIntermediateDirectories: true)
        let port = freePort()
        let config = Self.configuration(
            port: port, aeTitle: "QRSCP", area: area, access: access, quota: quota, destinations: destinations)
        try config.write(toFile: directory + "/qr.cfg", atomically: true, encoding: .utf8)
        if !indexInPlace.isEmpty {
            indexing = try FerryCLI.run(
                ["qrscp", "-c", directory + "/qr.cfg"] + indexInPlace.flatMap { ["--index-only", $0] })
        }
        if synthetic > 0 {
            let empty = directory + "/empty"
            try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
            _ = try FerryCLI.run(["qrscp", "-c", directory + "/qr.cfg", "--index-only", empty])
            let filled = try Tools.run(
                PeerProcess.python3,
                [Self.syntheticIndex, area + "/ferry-index.sqlite", String(synthetic), String(sameDay)])
            guard filled.status == 0 else { throw PeerError(message: "synthetic_index.py: \(filled.stderr)") }
        }
        peer = try PeerProcess(
            FerryCLI.path, ["qrscp", "-v", "-c", directory + "/qr.cfg", "+xa"] + extra, port: port)
        if !files.isEmpty {
            let sent = try Tools.run(
                "/usr/bin/dcmsend", ["-aec", "QRSCP", "127.0.0.1", String(port)] + files,
                environment: ["TCP_NODELAY": "1"])
            guard sent.status == 0 else { throw PeerError(message: "dcmsend: \(sent.stderr)") }
        }
    }

    /// DCMTK findscu's answers (extracted with -X), read back.
    func find(
        _ model: String, _ keys: [String], extra: [String] = []
    ) throws -> (responses: [DataSet], output: String) {
        let out = try Corpus.temporaryDirectory("findscu")
        let r = try Tools.run(
            "/usr/bin/findscu",
            [model, "-v", "-aec", "QRSCP", "-X", "-od", out] + extra + keys.flatMap { ["-k", $0] } + [
                "127.0.0.1", String(peer.port),
            ], environment: ["TCP_NODELAY": "1"])
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("rsp") }.sorted()
        return (try files.map { try Part10Reader.read(path: out + "/" + $0).dataSet }, r.stdout + r.stderr)
    }
}

extension QRSCPProcess {
    static let syntheticIndex = Corpus.packageRoot.appendingPathComponent("scripts/bench/synthetic_index.py").path

    /// A dcmqrscp.cfg (read by both `ferry qrscp` and DCMTK dcmqrscp) with one storage area and
    /// the move destinations in its HostTable.
    static func configuration(
        port: Int, aeTitle: String, area: String, access: String = "RW", quota: String = "(1000, 1024mb)",
        destinations: [(String, Int)] = []
    ) -> String {
        """
        NetworkTCPPort = \(port)
        MaxPDUSize = 16384
        MaxAssociations = 16
        HostTable BEGIN
        \(destinations.enumerated().map { "dest\($0.offset) = (\($0.element.0), 127.0.0.1, \($0.element.1))" }.joined(separator: "\n"))
        HostTable END
        VendorTable BEGIN
        VendorTable END
        AETable BEGIN
        \(aeTitle) \(area) \(access) \(quota) ANY
        AETable END
        """
    }

    /// DCMTK movescu (Study Root) of `studies` to `destination`: its output.
    func move(studies: [String], to destination: String, extra: [String] = []) throws -> String {
        let r = try Tools.run(
            "/usr/bin/movescu",
            ["-S", "-v", "-aec", "QRSCP", "-aem", destination] + extra + [
                "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.joined(separator: "\\"))",
                "127.0.0.1", String(peer.port),
            ], environment: ["TCP_NODELAY": "1"])
        return r.stdout + r.stderr
    }
}
