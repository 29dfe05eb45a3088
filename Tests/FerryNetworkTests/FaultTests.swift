import FerryDICOM
import Foundation
import Testing
import TestSupport

/// Faults injected with DCMTK storescp's own test switches: each gives a clear error, no hang
/// and DCMTK storescu's exit code; --no-halt goes on over new associations.
@Suite(.serialized)
struct FaultTests {
    /// Three uncompressed files (any peer accepts them without a special profile).
    func threeFiles() throws -> [String] {
        let files = try Interop.uncompressedFiles("tiny")
        let chosen = Array((files + files + files).prefix(3))
        #expect(chosen.count == 3)
        return chosen
    }

    func storescu(_ args: [String], port: Int, files: [String]) throws -> (Tools.Output, TimeInterval) {
        let start = Date()
        let out = try FerryCLI.run(["storescu", "-v"] + args + ["127.0.0.1", String(port)] + files)
        return (out, Date().timeIntervalSince(start))
    }

    @Test func refusedAssociation() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--refuse"])
        defer { peer.stop() }
        let (out, _) = try storescu([], port: peer.port, files: try threeFiles())
        #expect(out.status == 1)
        #expect(out.stderr.contains("association rejected: Rejected Permanent"), "\(out.stderr)")
    }

    @Test func nothingListening() throws {
        let (out, _) = try storescu([], port: freePort(), files: try threeFiles())
        #expect(out.status == 1)
        #expect(out.stderr.contains("cannot connect to 127.0.0.1"), "\(out.stderr)")
    }

    @Test func abortAfterHaltsWithExitCode10() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--abort-after"])
        defer { peer.stop() }
        let files = try threeFiles()
        let (out, _) = try storescu([], port: peer.port, files: files)
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("peer aborted the association"), "\(out.stderr)")
        #expect(out.stderr.components(separatedBy: "Requesting Association").count - 1 == 1, "halts after the first failure")
    }

    @Test func abortDuringHaltsWithExitCode10() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--abort-during"])
        defer { peer.stop() }
        let (out, _) = try storescu([], port: peer.port, files: try threeFiles())
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("Store Failed"), "\(out.stderr)")
    }

    /// Where DCMTK storescu -nh keeps trying on the dead association, Ferry opens a new one
    /// for the remaining files: every file is attempted on an association of its own.
    @Test func noHaltContinuesOnNewAssociations() throws {
        let out = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["--abort-after"])
        defer { peer.stop() }
        let files = try threeFiles()
        #expect(files.count == 3)
        let (result, _) = try storescu(["--no-halt"], port: peer.port, files: files)
        #expect(result.status == 0, "DCMTK convention: no halt, exit 0")
        #expect(result.stderr.components(separatedBy: "Requesting Association").count - 1 == 3, "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "Store Failed").count - 1 == 3)

        // DCMTK's storescu -nh on the same peer: one association, the later files fail on it.
        let dcmtk = try Tools.run("/usr/bin/storescu", ["-v", "--no-halt", "127.0.0.1", String(peer.port)] + files, environment: ["TCP_NODELAY": "1"])
        #expect(dcmtk.stderr.components(separatedBy: "Requesting Association").count - 1 == 1, "\(dcmtk.stderr)")
    }

    @Test func sleepDuringPastTheDIMSETimeout() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--sleep-during", "8"])
        defer { peer.stop() }
        let (out, elapsed) = try storescu(["-td", "2"], port: peer.port, files: try threeFiles())
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("timeout"), "\(out.stderr)")
        #expect(elapsed < 7, "gave up at the DIMSE timeout instead of waiting for the peer (\(elapsed) s)")
    }

    @Test func sleepAfterPastTheDIMSETimeout() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--sleep-after", "8"])
        defer { peer.stop() }
        let (out, elapsed) = try storescu(["-td", "2"], port: peer.port, files: try threeFiles())
        // The first store succeeds; storescp then sleeps before reading the next request.
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("timeout"), "\(out.stderr)")
        #expect(elapsed < 7, "\(elapsed) s")
    }
}
