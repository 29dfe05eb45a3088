import FerryCodecs
import FerryDICOM
import FerryMigration
import Foundation
import Glibc
import TestSupport
import Testing

@Suite(.serialized, .scratch)
struct PlanReportTests {
    static let snapshot = Corpus.packageRoot.path + "/Tests/FerryMigrationTests/Snapshots/small-plan.json"

    /// The dry-run report of the `small` profile (a deterministic corpus) matches the committed
    /// snapshot: groups and their file counts, states, and the contexts each association plan
    /// would propose.
    /// FERRY_UPDATE_SNAPSHOTS=1 rewrites it.
    @Test func smallProfileJSONSnapshot() throws {
        let manifest = try Corpus.temporaryDirectory("plan") + "/t.sqlite"
        let out = try Pipeline.run(
            "plan", manifest: manifest, port: 104, sources: try Interop.corpusRoots("small"), ["--format", "json"])
        #expect(out.status == 0, "\(out.stderr)")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        // Paths depend on where the corpus was made: the snapshot keeps the path-free parts.
        json["unsendable"] = (json["unsendable"] as? [[String: Any]])?.map {
            ["state": $0["state"] ?? "", "reason": $0["reason"] ?? ""]
        }
        // Byte counts too: the corpus's encoders write a few bytes more or less from run to run.
        json["groups"] = (json["groups"] as? [[String: Any]])?.map { $0.filter { $0.key != "bytes" } }
        let actual = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        if ProcessInfo.processInfo.environment["FERRY_UPDATE_SNAPSHOTS"] == "1" {
            try actual.write(to: URL(fileURLWithPath: Self.snapshot))
        }
        let expected = try Data(contentsOf: URL(fileURLWithPath: Self.snapshot))
        #expect(String(decoding: actual, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
    }

    /// --probe against a receiver that accepts only explicit VR little endian: explicit files
    /// go as they are, other uncompressed ones converted, compressed ones decoded (lossless or
    /// lossy sources named as such); the answers are stored in the manifest. A run whose
    /// transcoding order leaves no way to the receiver fails those files at once, from the
    /// stored probe, without spending an association on them.
    @Test func probeAgainstAPartialReceiver() throws {
        let rx = try Corpus.temporaryDirectory("rx-probe")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path,
            ["storescp", "-od", rx, "--accept-ts", TransferSyntax.explicitVRLittleEndian.uid, String(port)], port: port)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("plan") + "/t.sqlite"
        let out = try Pipeline.run(
            "plan", manifest: manifest, port: port, sources: try Interop.corpusRoots("tiny"),
            ["--probe", "--format", "json"])
        #expect(out.status == 0, "\(out.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let groups = json["groups"] as? [[String: Any]] ?? []
        func outcome(_ ts: TransferSyntax) -> String? {
            groups.first { $0["transferSyntax"] as? String == ts.uid }?["outcome"] as? String
        }
        #expect(outcome(.explicitVRLittleEndian) == "send as is")
        #expect(outcome(.implicitVRLittleEndian) == "send converted (uncompressed syntax change)")
        #expect(outcome(.rleLossless) == "transcode: RLE Lossless -> Explicit VR Little Endian (lossless decode)")
        #expect(
            outcome(.jpegBaseline)
                == "transcode: JPEG Baseline (Process 1) -> Explicit VR Little Endian (decode of a lossy stream)")
        #expect(Interop.received(rx).isEmpty, "the probe sends no data")
        let stored = try Manifest(path: manifest, exclusive: false).probes()
        #expect(stored.contains { $0.accepted && $0.transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid })
        #expect(stored.contains { !$0.accepted && $0.transferSyntaxUID == TransferSyntax.rleLossless.uid })

        // `run` reuses the probe: with RLE as the only way out, what the probe showed cannot be
        // sent fails at once with its reason; explicit files are sent.
        let run = try Pipeline.run(
            "run", manifest: manifest, port: port, sources: try Interop.corpusRoots("tiny"),
            ["--quiet", "--transcode-order", "rle"])
        #expect(run.status == 1, "\(run.stderr)")
        let m = try Manifest(path: manifest, exclusive: false)
        let failed = try m.instances(in: [.failed])
        #expect(
            !failed.isEmpty
                && failed.allSatisfy {
                    ($0.error ?? "").hasPrefix("probe of ANY-SCP@127.0.0.1:\(port): cannot be sent: ")
                        && ($0.error ?? "").contains("transcoding order")
                },
            "\(failed.map { $0.error ?? "" })")
        #expect(failed.allSatisfy { $0.attempts == 0 }, "no association was spent on them")
        let done = try m.instances(in: [.done])
        #expect(Interop.received(rx).count == done.count)
        #expect(!done.isEmpty && done.allSatisfy { $0.transferSyntaxUID == TransferSyntax.explicitVRLittleEndian.uid })
    }

    /// SIGINT: the run stops taking files, finishes in flight, exits 130, and a resumed run
    /// completes the job. The signal comes once 20 of the 300 instances are stored.
    @Test func interruptedRunExits130AndResumes() throws {
        let rx = try Corpus.temporaryDirectory("rx-int")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("manifest") + "/t.sqlite"
        let sources = try Interop.corpusRoots("ct-series", count: 300)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FerryCLI.path)
        p.arguments =
            [
                "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--quiet",
                "--associations", "1",
            ] + sources.flatMap { ["--source", $0] }
        try p.run()
        #expect(receiver.waitForLog("I: Stored ", count: 20), "\(receiver.log().suffix(1000))")
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        #expect(p.terminationStatus == 130)
        let m = try Manifest(path: manifest, exclusive: false)
        #expect((try m.counts()[.sending] ?? 0) == 0, "nothing left in flight")
        #expect((try m.counts()[.planned] ?? 0) > 0, "interrupted before the end")
        let resumed = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: sources, ["--quiet"])
        #expect(resumed.status == 0)
        #expect(try m.counts()[.done] == 300)
    }

    /// --shard 1/2 and 2/2 split a job by study: disjoint, and together everything.
    @Test func shardsSplitByStudy() throws {
        let rx = try Corpus.temporaryDirectory("rx-shard")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let sources = try Interop.corpusRoots("small")
        var doneByShard: [Set<String>] = []
        var studiesByShard: [Set<String>] = []
        for i in 1...2 {
            let manifest = try Corpus.temporaryDirectory("manifest") + "/s\(i).sqlite"
            _ = try Pipeline.run(
                "run", manifest: manifest, port: receiver.port, sources: sources, ["--quiet", "--shard", "\(i)/2"])
            let done = try Manifest(path: manifest, exclusive: false).instances(in: [.done])
            doneByShard.append(Set(done.compactMap(\.sopInstanceUID)))
            studiesByShard.append(Set(done.compactMap(\.studyInstanceUID)))
        }
        #expect(doneByShard[0].isDisjoint(with: doneByShard[1]))
        #expect(studiesByShard[0].isDisjoint(with: studiesByShard[1]))
        #expect(!doneByShard[0].isEmpty && !doneByShard[1].isEmpty)
        let manifest = try Corpus.temporaryDirectory("manifest") + "/all.sqlite"
        _ = try Pipeline.run("plan", manifest: manifest, port: receiver.port, sources: sources)
        let all = try Manifest(path: manifest, exclusive: false).instances(in: [.planned])
        #expect(doneByShard[0].union(doneByShard[1]) == Set(all.compactMap(\.sopInstanceUID)))
    }

    /// A manifest run as shard 1/2 and then without a shard sends the other shard's studies too:
    /// rows a shard skipped do not stay skipped.
    @Test func aShardsSkipsAreLiftedByALaterRunWithoutShards() throws {
        let rx = try Corpus.temporaryDirectory("rx-unshard")
        let receiver = try Pipeline.ferryReceiver(rx)
        defer { receiver.stop() }
        let sources = try Interop.corpusRoots("small")
        let manifest = try Corpus.temporaryDirectory("manifest") + "/u.sqlite"
        let first = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: sources, ["--quiet", "--shard", "1/2"])
        #expect(first.status == 0, "\(first.stderr)")
        let skipped = try Manifest(path: manifest, exclusive: false).counts()[.skipped] ?? 0
        #expect(skipped > 0, "shard 1/2 skipped the other studies")
        let second = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: sources, ["--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        let counts = try Manifest(path: manifest, exclusive: false).counts()
        #expect((counts[.skipped] ?? 0) == 0, "\(counts)")
        #expect(Interop.received(rx).count == (try Interop.sources("small")).count)
    }
}
