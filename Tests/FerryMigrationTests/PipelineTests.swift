import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// Helpers for running `ferry plan/run/status/report` against receivers started here.
enum Pipeline {
    static func ferryReceiver(_ dir: String, _ extra: [String] = []) throws -> PeerProcess {
        let port = freePort()
        return try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "+xa", "-od", dir] + extra + [String(port)], port: port)
    }

    static func run(
        _ command: String, manifest: String, port: Int, sources: [String], _ extra: [String] = [],
        environment: [String: String]? = nil
    ) throws -> Tools.Output {
        try FerryCLI.run(
            [command, "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(port)", "--name", "t"]
                + sources.flatMap { ["--source", $0] } + extra, environment: environment)
    }

    /// SOP Instance UID -> path, for every readable file under `paths`.
    static func instances(_ paths: [String]) -> [String: String] {
        var map: [String: String] = [:]
        for p in DirectoryWalker().files(under: paths) {
            if let s = try? HeaderScan.summary(path: p), let uid = s.sopInstanceUID { map[uid] = map[uid] ?? p }
        }
        return map
    }
}

@Suite(.serialized, .scratch)
struct PipelineEndToEndTests {
    /// small and stress, to ferry storescp: every sendable file arrives exactly once with an
    /// identical data set; every odd file is failed with its reason; exit 1; the JSON report
    /// lists each failure.
    @Test(arguments: ["small", "stress"])
    func corpusToFerryReceiver(profile: String) throws {
        let rx = try Corpus.temporaryDirectory("rx-run")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        try runAndCheck(profile: profile, port: receiver.port, received: rx)
    }

    /// The same against DCMTK storescp with a profile accepting what the corpus holds.
    @Test(arguments: ["small", "stress"])
    func corpusToDCMTK(profile: String) throws {
        let rx = try Corpus.temporaryDirectory("rx-dcmtk-run")
        let cfg = try Interop.acceptAllProfile(
            for: Pipeline.instances(try Interop.corpusRoots(profile)), directory: try Corpus.temporaryDirectory("cfg"))
        let receiver = try PeerProcess.dcmtkStorescp(outputDirectory: rx, ["-xf", cfg, "AcceptAll"])
        defer { receiver.stop() }
        try runAndCheck(profile: profile, port: receiver.port, received: rx)
    }

    func runAndCheck(profile: String, port: Int, received rx: String) throws {
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run(
            "run", manifest: manifest, port: port, sources: try Interop.corpusRoots(profile), ["--quiet"])
        let m = try Manifest(path: manifest, exclusive: false)
        let counts = try m.counts()
        let odd = try m.instances(in: [.failed, .conflict])
        #expect(out.status == (odd.isEmpty ? 0 : 1), "\(out.stderr)")
        #expect((counts[.planned] ?? 0) + (counts[.sending] ?? 0) == 0)
        // Every sendable file once, identical.
        let done = try m.instances(in: [.done, .doneWarning])
        let received = Interop.received(rx)
        #expect(received.count == done.count, "stored \(received.count), done \(done.count)")
        var sent: [String: String] = [:]
        for r in done { if let uid = r.sopInstanceUID { sent[uid] = r.path } }
        #expect(sent.count == done.count, "no SOP Instance UID sent twice")
        #expect(Interop.compare(sent: sent, received: received).isEmpty)
        // The odd files: failed with a reason, listed in the JSON report.
        if profile == "stress" {
            #expect(
                odd.filter { $0.state == .failed }.count == 6 && odd.filter { $0.state == .conflict }.count == 1,
                "\(odd.map { "\($0.path): \($0.error ?? "")" })")
            #expect(odd.allSatisfy { !($0.error ?? "").isEmpty })
            let report = try FerryCLI.run(["report", manifest, "--format", "json"])
            let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
            let listed = (json?["instances"] as? [[String: Any]] ?? []).filter { ($0["state"] as? String) != "done" }
            #expect(Set(listed.compactMap { $0["path"] as? String }) == Set(odd.map(\.path)))
        } else {
            #expect(odd.isEmpty, "\(odd.map { "\($0.path): \($0.error ?? "")" })")
        }
    }

    /// A finished job run again sends nothing; a new file is picked up by the next run.
    @Test func rerunSendsOnlyWhatIsNew() throws {
        let src = try Corpus.temporaryDirectory("incremental")
        let files = Array(try Interop.uncompressedFiles("small").prefix(6))
        for (i, f) in files.prefix(5).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let rx = try Corpus.temporaryDirectory("rx-incremental")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        #expect(
            try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: [src], ["--quiet"]).status == 0)
        let again = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: [src])
        #expect(again.status == 0)
        #expect(again.stderr.contains("0 new, 0 changed"), "\(again.stderr)")
        #expect(receiver.log().components(separatedBy: "Stored ").count - 1 == 5, "nothing re-sent")
        try FileManager.default.copyItem(atPath: files[5], toPath: src + "/f5.dcm")
        let third = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: [src])
        #expect(third.stderr.contains("1 new"), "\(third.stderr)")
        #expect(receiver.log().components(separatedBy: "Stored ").count - 1 == 6)
    }

    /// Two runs on one manifest: the second exits at once with a lock error.
    @Test func secondRunOnOneManifestIsRefused() throws {
        let rx = try Corpus.temporaryDirectory("rx-lock")
        let receiver = try Pipeline.ferryReceiver(rx, ["--sleep-after", "3"])  // keeps the first run going
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let src = try Corpus.temporaryDirectory("lock-src")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(2).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let first = Process()
        first.executableURL = URL(fileURLWithPath: FerryCLI.path)
        first.arguments = [
            "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--source", src, "--quiet",
        ]
        try first.run()
        // Once the receiver has a file, the first run holds the manifest (and sleeps 3 s there).
        #expect(receiver.waitForLog("Stored "), "\(receiver.log())")
        let second = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: [src])
        // Refused, not queued: a second run that waited for the lock would send and exit 0.
        #expect(second.status == 2)
        #expect(second.stderr.contains("in use by another ferry run"), "\(second.stderr)")
        first.waitUntilExit()
        #expect(first.terminationStatus == 0)
    }
}

@Suite(.serialized, .scratch)
struct PipelineSourceTests {
    /// A run reads the sources and never changes them: same names, sizes, mtimes and bytes.
    @Test func sourceTreeIsNeverModified() throws {
        let src = try Corpus.temporaryDirectory("untouched")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(3).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        func snapshot() throws -> [String: String] {
            var out: [String: String] = [:]
            for p in DirectoryWalker().files(under: [src]) {
                let a = try FileManager.default.attributesOfItem(atPath: p)
                out[p] = "\(a[.size] ?? 0) \(a[.modificationDate] ?? "") \(try FileBytes.readAll(p).hashValue)"
            }
            return out
        }
        let before = try snapshot()
        let rx = try Corpus.temporaryDirectory("rx-untouched")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        #expect(
            try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: [src], ["--quiet"]).status == 0)
        #expect(try snapshot() == before)
    }

    /// --since restricts a scan to files modified at or after the given time.
    @Test func sinceRestrictsTheScan() throws {
        let src = try Corpus.temporaryDirectory("since")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(2).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let old = Date().addingTimeInterval(-3 * 86400)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: src + "/f0.dcm")
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run("plan", manifest: manifest, port: 104, sources: [src], ["--since=-1d"])
        #expect(out.stderr.contains("1 files seen"), "\(out.stderr)")
    }
}

@Suite(.scratch)
struct ProgressOutputTests {
    /// --json-progress writes JSON lines ending with every file counted; without a terminal the
    /// plain progress is whole lines; --quiet writes none.
    @Test func progressModes() throws {
        let src = try Corpus.temporaryDirectory("progress")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(3).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let rx = try Corpus.temporaryDirectory("rx-progress")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let json = try Pipeline.run(
            "run", manifest: try Corpus.temporaryDirectory("m") + "/t.sqlite", port: receiver.port, sources: [src],
            ["--json-progress"])
        let last = try #require(json.stderr.split(separator: "\n").last { $0.hasPrefix("{") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        #expect(object["files"] as? Int == 3 && object["total_files"] as? Int == 3 && object["failures"] as? Int == 0)
        let plain = try Pipeline.run(
            "run", manifest: try Corpus.temporaryDirectory("m") + "/t.sqlite", port: receiver.port, sources: [src])
        #expect(plain.stderr.contains("3/3 files"), "\(plain.stderr)")
        #expect(!plain.stderr.contains("\r"), "no terminal control characters when stderr is not a terminal")
        let quiet = try Pipeline.run(
            "run", manifest: try Corpus.temporaryDirectory("m") + "/t.sqlite", port: receiver.port, sources: [src],
            ["--quiet"])
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
    }
}
