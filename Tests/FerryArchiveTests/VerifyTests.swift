import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry verify` (issue 16): after `ferry run`, the destination is asked what it holds; a
/// few instances lost there are reported missing, exactly those, `--resend` and a new run
/// restore them, and a second verification finds every instance.
@Suite(.scratch)
struct VerifyTests {
    /// ferry run/verify with the job given by flags; `source` is a folder.
    static func ferry(
        _ command: String, manifest: String, dest: String, source: String, _ extra: [String] = []
    )
        throws -> Tools.Output
    {
        try FerryCLI.run(
            [
                command, "--manifest", manifest, "--dest", dest, "--name", "v", "--source", source, "--calling-ae",
                "FERRY",
            ]
                + extra)
    }

    /// What `ferry verify` printed as missing: the files' paths.
    static func missing(_ out: Tools.Output) -> Set<String> {
        Set(
            out.stdout.split(separator: "\n").compactMap { line in
                line.hasPrefix("  missing: ") ? String(line.dropFirst("  missing: ".count)) : nil
            })
    }

    /// A copy of the tiny corpus's files that every peer here stores as they are
    /// (uncompressed: dcmqrscp takes nothing else) in a folder of its own.
    static func plainSource() throws -> (String, [String]) {
        let dir = try Corpus.temporaryDirectory("verify-source")
        var copies: [String] = []
        for (i, f) in try Interop.uncompressedFiles("tiny").enumerated() {
            let copy = dir + "/\(i).dcm"
            try FileManager.default.copyItem(atPath: f, toPath: copy)
            copies.append(copy)
        }
        return (dir, copies)
    }

    @Test func lostInstancesAtAFerryArchiveAreFoundMissingAndResent() throws {
        let source = try Corpus.directory("small")
        let archive = try QRSCPProcess(files: [])
        let dest = "QRSCP@127.0.0.1:\(archive.peer.port)"
        let manifest = try Corpus.temporaryDirectory("verify") + "/v.sqlite"
        _ = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let first = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(first.stdout.contains(" 0 missing, 0 unexpected, 0 count differences"), "\(first.stdout)")

        // Three stored files lost: the archive restarted on an index of what is left.
        archive.peer.stop()
        let area = archive.directory + "/QRSCP"
        let stored = try FileManager.default.contentsOfDirectory(atPath: area).filter { !$0.hasPrefix("ferry-index") }
            .sorted()
        try #require(stored.count > 3)
        var lostUIDs = Set<String>()
        for name in stored.prefix(3) {
            lostUIDs.insert(try #require(try HeaderScan.summary(path: area + "/" + name).sopInstanceUID))
            try FileManager.default.removeItem(atPath: area + "/" + name)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: area) where name.hasPrefix("ferry-index") {
            try FileManager.default.removeItem(atPath: area + "/" + name)
        }
        _ = try FerryCLI.run(["qrscp", "-c", archive.directory + "/qr.cfg", "--index-only", area])
        let restarted = try PeerProcess(
            FerryCLI.path, ["qrscp", "-c", archive.directory + "/qr.cfg", "+xa"], port: archive.peer.port)
        defer { restarted.stop() }

        let second = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet", "--resend"])
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        let missing = Self.missing(second)
        let missingUIDs = Set(try missing.compactMap { try HeaderScan.summary(path: $0).sopInstanceUID })
        #expect(missingUIDs == lostUIDs, "\(second.stdout)")
        #expect(second.stdout.contains("3 missing instances planned again"), "\(second.stdout)")
        let status = try FerryCLI.run(["status", manifest])
        #expect(status.stdout.contains("3 missing"), "\(status.stdout)")

        // ferry run --verify: the resent three, then the summary with the destination's answer.
        let rerun = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet", "--verify"])
        let sent = try #require(
            try FerryCLI.run(["status", manifest]).stdout.split(separator: "\n").first {
                $0.contains("done ")
            })
        #expect(rerun.stdout.contains(" verified, 0 missing ("), "\(rerun.stdout)\(rerun.stderr)")
        #expect(rerun.stdout.contains("run: \(sent.split(separator: " ").last ?? "") sent"), "\(rerun.stdout) \(sent)")
        let third = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
        #expect(third.stdout.contains(" 0 missing, 0 unexpected, 0 count differences"), "\(third.stdout)")
    }

    /// An archive that answers at most 2 matches (then FE00) still yields a complete check:
    /// capped series are asked for by the UIDs sent.
    @Test func cappedAnswersStillVerifyEveryInstance() throws {
        let source = try Corpus.directory("small")
        let archive = try QRSCPProcess(files: [], extra: ["--cap-results", "2"])
        defer { archive.peer.stop() }
        let dest = "QRSCP@127.0.0.1:\(archive.peer.port)"
        let manifest = try Corpus.temporaryDirectory("verify-capped") + "/v.sqlite"
        _ = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let out = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains(" 0 missing,") && out.stdout.contains("capped:"), "\(out.stdout)")
    }

    /// The archive aborts its first association mid-answer: the study is asked again on a new
    /// association (the sender's max_attempts), and the verification completes.
    @Test func anAbortMidAnswerIsAskedAgainOnANewAssociation() throws {
        let source = try Corpus.directory("small")
        let archive = try QRSCPProcess(files: [], extra: ["--abort-after-responses", "2"])
        defer { archive.peer.stop() }
        let dest = "QRSCP@127.0.0.1:\(archive.peer.port)"
        let manifest = try Corpus.temporaryDirectory("verify-abort") + "/v.sqlite"
        _ = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let out = try Self.ferry(
            "verify", manifest: manifest, dest: dest, source: source, ["--quiet", "--backoff", "0.1"])
        #expect(archive.peer.logCount("Aborting after 2 pending responses") == 1)
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains(" 0 missing, 0 unexpected, 0 count differences"), "\(out.stdout)")
    }

    @Test func orthancInstancesDeletedOverRESTAreFoundMissingAndResent() throws {
        let orthanc = try SCUAgainstOrthancTests.orthanc(load: false)
        defer { orthanc.peer.stop() }
        let source = try Corpus.directory("small")
        let dest = "ORTHANC@127.0.0.1:\(orthanc.peer.port)"
        let manifest = try Corpus.temporaryDirectory("verify-orthanc") + "/v.sqlite"
        _ = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let first = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let instances = try orthanc.get("/instances?expand") as? [[String: Any]] ?? []
        try #require(instances.count > 3)
        var deleted = Set<String>()
        for i in instances.prefix(3) {
            let id = try #require(i["ID"] as? String)
            deleted.insert(try #require((i["MainDicomTags"] as? [String: Any])?["SOPInstanceUID"] as? String))
            _ = try orthanc.request("DELETE", "/instances/\(id)")
        }
        let second = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet", "--resend"])
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        let missingUIDs = Set(try Self.missing(second).compactMap { try HeaderScan.summary(path: $0).sopInstanceUID })
        #expect(missingUIDs == deleted, "\(second.stdout)")
        _ = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let third = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(third.status == 0, "\(third.stdout)\(third.stderr)")
    }

    /// dcmqrscp gives no counts and needs the unique keys above each level. Archive A takes
    /// the run; archive B, on the same port, holds all but one of the files: that one is missing.
    @Test func dcmqrscpReconciles() throws {
        let (source, files) = try Self.plainSource()
        try #require(files.count >= 2)
        let port = freePort()
        func dcmqrscp(loading: [String]) throws -> PeerProcess {
            let dir = try Corpus.temporaryDirectory("dcmqrscp-verify")
            try FileManager.default.createDirectory(atPath: dir + "/DCMQR", withIntermediateDirectories: true)
            let cfg = QRSCPProcess.configuration(port: port, aeTitle: "DCMQR", area: dir + "/DCMQR")
            try cfg.write(toFile: dir + "/qr.cfg", atomically: true, encoding: .utf8)
            let peer = try PeerProcess("/usr/bin/dcmqrscp", ["-c", dir + "/qr.cfg", String(port)], port: port)
            if !loading.isEmpty {
                let sent = try Tools.run(
                    "/usr/bin/dcmsend", ["-aec", "DCMQR", "127.0.0.1", String(port)] + loading,
                    environment: ["TCP_NODELAY": "1"])
                #expect(sent.status == 0, "\(sent.stderr)")
            }
            return peer
        }
        let dest = "DCMQR@127.0.0.1:\(port)"
        let manifest = try Corpus.temporaryDirectory("verify-dcmqrscp") + "/v.sqlite"
        let a = try dcmqrscp(loading: [])
        let run = try Self.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let first = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        a.stop()
        let b = try dcmqrscp(loading: Array(files.dropFirst()))
        defer { b.stop() }
        let second = try Self.ferry("verify", manifest: manifest, dest: dest, source: source, ["--quiet"])
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        #expect(Self.missing(second) == [files[0]], "\(second.stdout)")
    }
}
