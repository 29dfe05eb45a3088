import FerryDICOM
import FerryMigration
import Foundation
import Glibc
import TestSupport
import Testing

/// Killed runs resume with nothing lost and little re-sent; faults follow the retry policy.
@Suite(.serialized, .scratch)
struct ResilienceTests {
    /// kill -9 the run at random moments (6 times, 2 associations) over 300 CT images, resuming
    /// each time; in the end all 300 instances are at the receiver, no row is `sending`, and
    /// the instances stored twice are at most those in flight at the kills. Each kill comes
    /// when the receiver has stored a random 5 to 30 more instances: a moment in mid-transfer
    /// on any machine, however fast.
    @Test func killedRunsResume() throws {
        let rx = try Corpus.temporaryDirectory("rx-kill")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let sources = try Interop.corpusRoots("ct-series", count: 300)
        var generator = SystemRandomNumberGenerator()
        var inFlightAtKills = 0
        var kills = 0
        for _ in 0..<12 where kills < 6 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: FerryCLI.path)
            p.arguments =
                [
                    "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--quiet",
                    "--associations", "2",
                ]
                + sources.flatMap { ["--source", $0] }
            let target = receiver.logCount("I: Stored ") + Int.random(in: 5...30, using: &generator)
            try p.run()
            _ = waitUntil(timeout: 60) { receiver.logCount("I: Stored ") >= target || !p.isRunning }
            guard p.isRunning else { p.waitUntilExit(); continue }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            kills += 1
            let m = try Manifest(path: manifest, exclusive: false)
            inFlightAtKills += try m.counts()[.sending] ?? 0
        }
        #expect(kills >= 5, "the run was killed at least 5 times (\(kills))")
        let final = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: sources, ["--quiet"])
        #expect(final.status == 0, "\(final.stderr)")
        let m = try Manifest(path: manifest, exclusive: false)
        let counts = try m.counts()
        #expect(counts[.done] == 300)
        #expect((counts[.sending] ?? 0) == 0)
        #expect(Interop.received(rx).count == 300)
        let stores = receiver.logCount("I: Stored ")
        #expect(stores - 300 <= inFlightAtKills, "re-sent \(stores - 300), in flight at the kills \(inFlightAtKills)")
    }

    func faultRun(
        _ receiverOptions: [String], _ runOptions: [String] = [], dcmtk: Bool = false
    ) throws -> (Tools.Output, Manifest) {
        let rx = try Corpus.temporaryDirectory("rx-fault")
        let receiver =
            dcmtk
            ? try PeerProcess.dcmtkStorescp(outputDirectory: rx, receiverOptions)
            : try Pipeline.ferryReceiver(rx, receiverOptions)
        defer { receiver.stop() }
        let src = try Corpus.temporaryDirectory("fault-src")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(2).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: [src],
            ["--quiet", "--associations", "1", "--backoff", "0.1"] + runOptions)
        return (out, try Manifest(path: manifest, exclusive: false))
    }

    @Test func refusedDestinationPausesWithExitThree() throws {
        let (out, m) = try faultRun(["--refuse"], dcmtk: true)
        #expect(out.status == 3, "\(out.stderr)")
        #expect(try m.counts()[.planned] == 2, "nothing is failed: the files wait for the next run")
    }

    @Test func abortDuringIsRetriedThenFailed() throws {
        let (out, m) = try faultRun(["--abort-during"], dcmtk: true)
        #expect(out.status == 1, "\(out.stderr)")
        let rows = try m.instances()
        #expect(
            rows.allSatisfy { $0.state == .failed && $0.attempts == 3 },
            "\(rows.map { ($0.state, $0.attempts, $0.error ?? "") })")
    }

    @Test func sleepDuringPastTheDIMSETimeoutIsRetriedThenFailed() throws {
        let (out, m) = try faultRun(["--sleep-during", "30"], ["--dimse-timeout", "0.3", "--max-attempts", "2"])
        #expect(out.status == 1, "\(out.stderr)")
        let rows = try m.instances()
        #expect(
            rows.allSatisfy { $0.state == .failed && $0.attempts == 2 && ($0.error ?? "").contains("timeout") },
            "\(rows.map { ($0.state, $0.attempts, $0.error ?? "") })")
    }

    @Test func outOfResourcesBacksOffThenPauses() throws {
        let (out, m) = try faultRun(["--status", "A700"])
        #expect(out.status == 3, "\(out.stderr)")
        let rows = try m.instances()
        #expect(rows.allSatisfy { $0.state == .planned }, "paused, not failed: \(rows.map(\.state))")
        #expect(rows.contains { $0.statusCode == 0xA700 })
    }

    /// The manifest's disk fills up during a run (a 16 MiB tmpfs in a private mount namespace,
    /// filled to 64 KiB of room): the checkpoint that fails pauses the run with a clear message
    /// (exit 3) instead of spinning or losing a state; with room again, the next run finishes.
    @Test func aFullManifestDiskPausesTheRunAndTheNextRunFinishes() throws {
        let rx = try Corpus.temporaryDirectory("rx-manifest-full")
        let receiver = try Pipeline.ferryReceiver(rx, ["--ignore"])
        defer { receiver.stop() }
        let sources = try Interop.corpusRoots("ct-series", count: 300)
        let disk = try Corpus.temporaryDirectory("manifest-disk")
        let run =
            "'\(FerryCLI.path)' run --manifest '\(disk)/m.sqlite' --dest ANY-SCP@127.0.0.1:\(receiver.port) --name t --quiet "
            + sources.map { "--source '\($0)'" }.joined(separator: " ")
        let script = """
            mount -t tmpfs -o size=16m tmpfs '\(disk)' || exit 99
            '\(FerryCLI.path)' plan --manifest '\(disk)/m.sqlite' --dest ANY-SCP@127.0.0.1:\(receiver.port) --name t \
                \(sources.map { "--source '\($0)'" }.joined(separator: " ")) > /dev/null || exit 98
            dd if=/dev/zero of='\(disk)/fill' bs=4k 2>/dev/null; truncate -s -64K '\(disk)/fill'
            \(run); echo "first=$?"
            rm '\(disk)/fill'
            \(run); echo "second=$?"
            '\(FerryCLI.path)' status '\(disk)/m.sqlite'
            """
        let out = try Tools.run("/usr/bin/unshare", ["-rm", "/bin/sh", "-c", script])
        #expect(out.stdout.contains("first=3"), "paused: \(out.stdout) \(out.stderr)")
        #expect(out.stderr.contains("the manifest cannot be written"), "\(out.stderr)")
        #expect(out.stdout.contains("second=0"), "finished: \(out.stdout) \(out.stderr)")
        #expect(out.stdout.contains("done") && out.stdout.contains("300"), "\(out.stdout)")
    }

    /// A file whose decoding kills the process (a codec that traps; here the test switch
    /// --fault-abort-decoding makes the process abort when it re-encodes f1.dcm) costs one
    /// attempt per run that dies on it: after max_attempts such runs it is failed with the
    /// reason, and the run finishes the rest instead of dying on it forever.
    @Test func aFileThatKillsTheDecoderIsFailedAfterItsAttempts() throws {
        let rx = try Corpus.temporaryDirectory("rx-crash")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path, ["storescp", "-od", rx, "--accept-ts", TransferSyntax.rleLossless.uid, String(port)],
            port: port)
        defer { receiver.stop() }
        let src = try Corpus.temporaryDirectory("crash-src")
        let files = try Interop.uncompressedFiles("tiny")
        #expect(files.count >= 3)
        for (i, f) in files.enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        func run() throws -> Tools.Output {
            try Pipeline.run(
                "run", manifest: manifest, port: port, sources: [src],
                ["--quiet", "--associations", "1", "--max-attempts", "2", "--fault-abort-decoding", "f1.dcm"])
        }
        for attempt in 1...2 {
            let out = try run()
            #expect(out.status == SIGABRT, "run \(attempt) died decoding f1.dcm: \(out.status) \(out.stderr)")
            let row = try #require(
                try Manifest(path: manifest, exclusive: false).instances().first { $0.path.hasSuffix("/f1.dcm") })
            #expect(row.decoding && row.decodeAttempts == attempt, "marked before the decoder started")
        }
        let out = try run()
        #expect(out.status == 1, "the rest is sent, one file failed: \(out.stderr)")
        let rows = try Manifest(path: manifest, exclusive: false).instances()
        let crashed = try #require(rows.first { $0.path.hasSuffix("/f1.dcm") })
        #expect(crashed.state == .failed)
        #expect(crashed.error == "the process ended while decoding this file (2 runs)", "\(crashed.error ?? "")")
        #expect(rows.filter { $0.state == .done }.count == files.count - 1, "\(rows.map { ($0.path, $0.state) })")
        #expect(Interop.received(rx).count == files.count - 1)
    }

    /// SIGTERM while the run waits out a long back-off (out of resources, 60 s) ends the run at
    /// once (exit 130) with the files still planned, instead of after the wait.
    @Test func aStopDuringABackOffEndsTheRunAtOnce() throws {
        let rx = try Corpus.temporaryDirectory("rx-backoff")
        let receiver = try Pipeline.ferryReceiver(rx, ["--status", "A700"])
        defer { receiver.stop() }
        let src = try Corpus.temporaryDirectory("backoff-src")
        for (i, f) in try Interop.uncompressedFiles("tiny").prefix(2).enumerated() {
            try FileManager.default.copyItem(atPath: f, toPath: src + "/f\(i).dcm")
        }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FerryCLI.path)
        p.arguments = [
            "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--name", "t", "--quiet",
            "--associations", "1", "--backoff", "60", "--max-attempts", "5", "--source", src,
        ]
        try p.run()
        // The first answer (0xA700) is in the manifest: the run now waits 30-90 s.
        let answered = waitUntil(timeout: 60) {
            ((try? Manifest(path: manifest, exclusive: false).instances()) ?? []).contains { $0.statusCode == 0xA700 }
        }
        #expect(answered, "the receiver answered out of resources")
        let stopped = Date()
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(stopped)
        #expect(p.terminationStatus == 130)
        #expect(seconds < 10, "ended \(seconds) s after SIGTERM; the back-off was at least 30 s")
        let rows = try Manifest(path: manifest, exclusive: false).instances()
        #expect(rows.allSatisfy { $0.state == .planned }, "\(rows.map(\.state))")
    }

    @Test func cannotUnderstandIsRetriedOnceThenFailed() throws {
        let (out, m) = try faultRun(["--status", "C000"])
        #expect(out.status == 1, "\(out.stderr)")
        let rows = try m.instances()
        #expect(
            rows.allSatisfy { $0.state == .failed && $0.attempts == 2 && $0.statusCode == 0xC000 },
            "\(rows.map { ($0.state, $0.attempts) })")
    }

    @Test func warningIsDoneWithTheStatusKept() throws {
        let (out, m) = try faultRun(["--status", "B000"])
        #expect(out.status == 0, "\(out.stderr)")
        let rows = try m.instances()
        #expect(
            rows.allSatisfy {
                $0.state == .doneWarning && $0.statusCode == 0xB000
                    && $0.statusName == "Warning: Coercion of data elements"
            })
    }
}

/// A damaged manifest is refused when it opens, by every command, and left as it is.
@Suite(.scratch)
struct DamagedManifestTests {
    func planned() throws -> String {
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let out = try FerryCLI.run(
            ["plan", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:104", "--name", "t", "--source"]
                + [try Interop.corpusRoots("small")[0]])
        #expect(out.status == 0, "\(out.stderr)")
        return manifest
    }

    func expectRefused(_ manifest: String) throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: manifest))
        for command in [["status", manifest], ["report", manifest]] {
            let out = try FerryCLI.run(command)
            #expect(out.status == 2, "\(command[0]): \(out.status) \(out.stderr)")
            #expect(out.stderr.contains("is damaged"), "\(command[0]): \(out.stderr)")
        }
        let run = try FerryCLI.run(
            [
                "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(freePort())", "--name", "t",
                "--source", try Corpus.temporaryDirectory("empty-source"),
            ])
        #expect(run.status == 2 && run.stderr.contains("is damaged"), "run: \(run.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: manifest)) == before, "the manifest was not changed")
    }

    /// status and report open the manifest read-only: they leave it as it is, and refuse one
    /// of an older schema (which plan or run bring up to date) instead of migrating it.
    @Test func statusAndReportOpenReadOnly() throws {
        let manifest = try planned()
        let before = try Data(contentsOf: URL(fileURLWithPath: manifest))
        for command in [["status", manifest], ["report", manifest]] {
            let out = try FerryCLI.run(command)
            #expect(out.status == 0, "\(command[0]): \(out.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: manifest)) == before, "not written")
        let older = try Tools.run(
            PeerProcess.python3,
            [
                "-c",
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"delete from grdb_migrations where identifier like 'v5%'\"); c.commit()",
                manifest,
            ])
        #expect(older.status == 0, "\(older.stderr)")
        let status = try FerryCLI.run(["status", manifest])
        #expect(status.status == 2 && status.stderr.contains("older schema"), "\(status.stderr)")
    }

    @Test func aFileThatIsNoDatabaseIsRefused() throws {
        let manifest = try Corpus.temporaryDirectory("manifest") + "/garbage.sqlite"
        try Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: URL(fileURLWithPath: manifest))
        try expectRefused(manifest)
    }

    /// The b-tree page header of the instance table overwritten (found, after a checkpoint
    /// that empties the WAL, by Python's sqlite3).
    @Test func aDatabaseWithADamagedPageIsRefused() throws {
        let manifest = try planned()
        let found = try Tools.run(
            PeerProcess.python3,
            [
                "-c",
                """
                import sqlite3, sys
                c = sqlite3.connect(sys.argv[1])
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                print(c.execute("PRAGMA page_size").fetchone()[0],
                      c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'instance'").fetchone()[0])
                c.close()
                """, manifest,
            ])
        let numbers = found.stdout.split(separator: " ").compactMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try #require(numbers.count == 2, "\(found.stdout) \(found.stderr)")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: manifest))
        let header = (numbers[1] - 1) * numbers[0]
        try #require(header + 12 <= bytes.count)
        for i in 0..<12 { bytes[header + i] = 0xFF }
        try bytes.write(to: URL(fileURLWithPath: manifest))
        try expectRefused(manifest)
    }
}
