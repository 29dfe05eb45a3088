import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Storage commitment (issue 16): `ferry run` asks the destination to commit what it sent and
/// records each instance's answer; reports come on the requesting association or on a new one
/// the destination opens to Ferry's listener; failures keep their reasons; a run killed while
/// waiting asks again on resume.
@Suite(.scratch)
struct CommitmentTests {
    /// A job file with the commitment section, run with the rest of the job as flags.
    static func run(
        manifest: String, dest: String, source: String, commitment: String, _ extra: [String] = []
    ) throws -> Tools.Output {
        let job = try Corpus.temporaryDirectory("commit-job") + "/c.yaml"
        try "commitment:\n\(commitment)\n".write(toFile: job, atomically: true, encoding: .utf8)
        return try FerryCLI.run(
            [
                "run", job, "--manifest", manifest, "--dest", dest, "--source", source, "--calling-ae", "FERRY",
                "--quiet",
            ]
                + extra)
    }

    /// Each instance's commitment and reason, by SOP Instance UID (ferry report --format csv).
    static func commitments(_ manifest: String) throws -> [String: (String, String)] {
        let report = try FerryCLI.run(["report", manifest, "--format", "csv"])
        #expect(report.status == 0, "\(report.stderr)")
        var out: [String: (String, String)] = [:]
        let lines = report.stdout.split(separator: "\n").map(String.init)
        let header = (lines.first ?? "").split(separator: ",").map(String.init)
        let uid = header.firstIndex(of: "sop_instance_uid") ?? 0
        let commitment = header.firstIndex(of: "commitment") ?? 0
        let reason = header.firstIndex(of: "commitment_reason") ?? 0
        for line in lines.dropFirst() {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count == header.count else { continue }
            out[f[uid]] = (f[commitment], f[reason])
        }
        return out
    }

    @Test func ferryStorescpCommitsOnTheSameAssociation() throws {
        let (source, files) = try VerifyTests.plainSource()
        let out = try Corpus.temporaryDirectory("commit-out")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "--storage-commitment", "-od", out, String(port)], port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("commit") + "/c.sqlite"
        let r = try Self.run(
            manifest: manifest, dest: "STORESCP@127.0.0.1:\(port)", source: source, commitment: "  batch: study")
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains(" \(files.count) committed, 0 failed, 0 awaiting a report"), "\(r.stdout)")
        let results = try Self.commitments(manifest)
        #expect(results.count == files.count)
        #expect(results.values.allSatisfy { $0.0 == "committed" }, "\(results)")
        // Answered on the requesting association: no report association was opened.
        #expect(receiver.logCount("answered: 0x0000: Success") >= 1, "\(receiver.log())")
        #expect(receiver.logCount(" sent to ") == 0)
        // A second run has nothing left to ask.
        let again = try Self.run(
            manifest: manifest, dest: "STORESCP@127.0.0.1:\(port)", source: source, commitment: "  batch: study")
        #expect(again.stdout.contains("0 requests, \(files.count) committed"), "\(again.stdout)")
    }

    /// Reports on a new association from ferry storescp to Ferry's listener, a second after
    /// each request (one per 2 instances).
    @Test func ferryStorescpReportsOnANewAssociation() throws {
        let (source, files) = try VerifyTests.plainSource()
        let out = try Corpus.temporaryDirectory("commit-out")
        let (port, listen) = (freePort(), freePort())
        let receiver = try PeerProcess(
            FerryCLI.path,
            [
                "storescp", "-v", "--commitment-report-to", "127.0.0.1:\(listen)", "--commitment-delay", "1", "-od",
                out, String(port),
            ], port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("commit") + "/c.sqlite"
        let r = try Self.run(
            manifest: manifest, dest: "STORESCP@127.0.0.1:\(port)", source: source,
            commitment: "  batch: 2\n  listen_port: \(listen)\n  wait: 30")
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let requests = (files.count + 1) / 2
        #expect(
            r.stdout.contains("\(requests) requests, \(files.count) committed, 0 failed, 0 awaiting"), "\(r.stdout)")
        #expect(
            receiver.logCount("sent to FERRY@127.0.0.1:\(listen): 0x0000: Success") == requests, "\(receiver.log())")
        #expect(try Self.commitments(manifest).values.allSatisfy { $0.0 == "committed" })
    }

    /// ferry qrscp commits what its index holds and whose file is there: three files lost
    /// after the sends are reported failed (0112, no such object instance), exactly those.
    @Test func failuresAreRecordedWithTheirReasons() throws {
        let (source, files) = try VerifyTests.plainSource()
        let archive = try QRSCPProcess(files: [], extra: ["--storage-commitment"])
        defer { archive.peer.stop() }
        let dest = "QRSCP@127.0.0.1:\(archive.peer.port)"
        let manifest = try Corpus.temporaryDirectory("commit") + "/c.sqlite"
        let sent = try VerifyTests.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let area = archive.directory + "/QRSCP"
        let stored = try FileManager.default.contentsOfDirectory(atPath: area).filter { !$0.hasPrefix("ferry-index") }
            .sorted()
        try #require(stored.count == files.count)
        var lost = Set<String>()
        for name in stored.prefix(3) {
            lost.insert(try #require(try HeaderScan.summary(path: area + "/" + name).sopInstanceUID))
            try FileManager.default.removeItem(atPath: area + "/" + name)
        }
        let r = try Self.run(
            manifest: manifest, dest: dest, source: source, commitment: "  batch: end", ["--no-scan"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\(files.count - 3) committed, 3 failed, 0 awaiting"), "\(r.stdout)")
        let results = try Self.commitments(manifest)
        let failed = Set(results.filter { $0.value.0 == "failed" }.keys)
        #expect(failed == lost)
        #expect(results.filter { $0.value.0 == "failed" }.values.allSatisfy { $0.1 == "0x112 no such object instance" })
        let status = try FerryCLI.run(["status", manifest])
        #expect(status.stdout.contains("3 failed, 0 awaiting a report (1 requests, 1 answered)"), "\(status.stdout)")
        #expect(status.stdout.components(separatedBy: "not committed: ").count - 1 == 3)
    }

    /// Orthanc answers storage commitment on a new association to the AE its modality list
    /// names (Ferry's listener); instances deleted through its REST API fail with 0112.
    @Test func orthancReportsOnANewAssociationWithItsFailures() throws {
        let listen = freePort()
        let orthanc = try SCUAgainstOrthancTests.orthanc(destinations: [("FERRY", listen)], load: false)
        defer { orthanc.peer.stop() }
        let (source, files) = try VerifyTests.plainSource()
        let dest = "ORTHANC@127.0.0.1:\(orthanc.peer.port)"
        let manifest = try Corpus.temporaryDirectory("commit-orthanc") + "/c.sqlite"
        let sent = try VerifyTests.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(sent.status == 0, "\(sent.stderr)")
        let instances = try orthanc.get("/instances?expand") as? [[String: Any]] ?? []
        try #require(instances.count == files.count)
        var deleted = Set<String>()
        for i in instances.prefix(2) {
            deleted.insert(try #require((i["MainDicomTags"] as? [String: Any])?["SOPInstanceUID"] as? String))
            _ = try orthanc.request("DELETE", "/instances/\(try #require(i["ID"] as? String))")
        }
        let r = try Self.run(
            manifest: manifest, dest: dest, source: source,
            commitment: "  batch: study\n  listen_port: \(listen)\n  wait: 60", ["--no-scan"])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("\(files.count - 2) committed, 2 failed, 0 awaiting"), "\(r.stdout)")
        let results = try Self.commitments(manifest)
        #expect(Set(results.filter { $0.value.0 == "failed" }.keys) == deleted)
        #expect(results.filter { $0.value.0 == "failed" }.values.allSatisfy { $0.1 == "0x112 no such object instance" })
    }

    /// A run killed while it waits for the report leaves its request outstanding; the next run
    /// asks again (a new transaction, the old one superseded) and records the answer.
    @Test func aRunKilledWhileWaitingAsksAgainOnResume() throws {
        let (source, files) = try VerifyTests.plainSource()
        let out = try Corpus.temporaryDirectory("commit-out")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path,
            ["storescp", "-v", "--storage-commitment", "--commitment-delay", "5", "-od", out, String(port)], port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("commit") + "/c.sqlite"
        let job = try Corpus.temporaryDirectory("commit-job") + "/c.yaml"
        try "commitment:\n  wait: 60\n".write(toFile: job, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FerryCLI.path)
        p.arguments = [
            "run", job, "--manifest", manifest, "--dest", "STORESCP@127.0.0.1:\(port)", "--source", source, "--quiet",
        ]
        try p.run()
        let waiting = waitUntil(timeout: 60) {
            receiver.logCount("Storage Commitment Request") >= 1 || !p.isRunning
        }
        #expect(waiting && p.isRunning, "\(receiver.log())")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let killed = try FerryCLI.run(["status", manifest])
        #expect(killed.stdout.contains("0 committed, 0 failed, \(files.count) awaiting a report"), "\(killed.stdout)")

        let r = try Self.run(
            manifest: manifest, dest: "STORESCP@127.0.0.1:\(port)", source: source, commitment: "  wait: 60",
            ["--no-scan"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("1 requests, \(files.count) committed, 0 failed, 0 awaiting"), "\(r.stdout)")
        // Two requests: the first superseded, the second answered.
        let status = try FerryCLI.run(["status", manifest])
        #expect(status.stdout.contains("0 awaiting a report (2 requests, 1 answered)"), "\(status.stdout)")
        #expect(receiver.logCount("Storage Commitment Request") == 2)
    }
}

/// Storage commitment on an area that cannot be read (access W) is refused (0124, not
/// authorized), as its C-FIND is: the answer would tell whether an instance is held.
@Suite(.scratch)
struct WriteOnlyCommitmentTests {
    @Test func aWriteOnlyAreaRefusesCommitment() throws {
        let (source, _) = try VerifyTests.plainSource()
        let archive = try QRSCPProcess(files: [], extra: ["--storage-commitment"], access: "W")
        defer { archive.peer.stop() }
        let manifest = try Corpus.temporaryDirectory("commit-wo") + "/c.sqlite"
        let r = try CommitmentTests.run(
            manifest: manifest, dest: "QRSCP@127.0.0.1:\(archive.peer.port)", source: source,
            commitment: "  batch: study")
        #expect(r.stdout.contains(" 0 committed,"), "\(r.stdout)\(r.stderr)")
        #expect(archive.peer.log().contains("refused: QRSCP has no read access"), "\(archive.peer.log())")
        let results = try CommitmentTests.commitments(manifest)
        #expect(!results.isEmpty && results.values.allSatisfy { $0.0 != "committed" }, "\(results)")
    }
}
