import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Faults injected with DCMTK storescp's own test switches: each gives a clear error, no hang
/// and DCMTK storescu's exit code; --no-halt goes on over new associations.
@Suite(.serialized, .scratch)
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
        let port = freePort()
        let (out, _) = try storescu([], port: port, files: try threeFiles())
        #expect(out.status == 1)
        #expect(out.stderr.contains("cannot connect to 127.0.0.1:\(port): connection refused"), "\(out.stderr)")
    }

    @Test func abortAfterHaltsWithExitCode10() throws {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory(), ["--abort-after"])
        defer { peer.stop() }
        let files = try threeFiles()
        let (out, _) = try storescu([], port: peer.port, files: files)
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("peer aborted the association"), "\(out.stderr)")
        #expect(
            out.stderr.components(separatedBy: "Requesting Association").count - 1 == 1, "halts after the first failure"
        )
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
        let dcmtk = try Tools.run(
            "/usr/bin/storescu", ["-v", "--no-halt", "127.0.0.1", String(peer.port)] + files,
            environment: ["TCP_NODELAY": "1"])
        #expect(dcmtk.stderr.components(separatedBy: "Requesting Association").count - 1 == 1, "\(dcmtk.stderr)")
    }

    /// The peer sleeps 30 s, Ferry waits 0.3 s: it gives up at its timeout, long before the
    /// peer would answer (the test ends when Ferry does).
    @Test func sleepDuringPastTheDIMSETimeout() throws {
        let peer = try PeerProcess.dcmtkStorescp(
            outputDirectory: try Corpus.temporaryDirectory(), ["--sleep-during", "30"])
        defer { peer.stop() }
        let (out, elapsed) = try storescu(["-td", "0.3"], port: peer.port, files: try threeFiles())
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("timeout"), "\(out.stderr)")
        #expect(elapsed < 25, "gave up at the DIMSE timeout instead of waiting for the peer (\(elapsed) s)")
    }

    @Test func sleepAfterPastTheDIMSETimeout() throws {
        let peer = try PeerProcess.dcmtkStorescp(
            outputDirectory: try Corpus.temporaryDirectory(), ["--sleep-after", "30"])
        defer { peer.stop() }
        let (out, elapsed) = try storescu(["-td", "0.3"], port: peer.port, files: try threeFiles())
        // The first store succeeds; storescp then sleeps before reading the next request.
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("timeout"), "\(out.stderr)")
        #expect(elapsed < 25, "\(elapsed) s")
    }
}

/// Statuses from a pynetdicom SCP that answers every C-STORE with the status its caller names
/// in the calling AE title (one SCP for the whole suite): the name and class are reported, and
/// the exit code follows DCMTK (failure: status >> 8; warning: 0).
@Suite(.serialized, .scratch)
struct StatusTests {
    static let scp = """
        import sys
        from pynetdicom import AE, evt, AllStoragePresentationContexts, ALL_TRANSFER_SYNTAXES
        ae = AE()
        for cx in AllStoragePresentationContexts:
            ae.add_supported_context(cx.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        def store(event):
            return int(event.assoc.requestor.ae_title.strip(), 16)
        ae.start_server(("127.0.0.1", int(sys.argv[1])), evt_handlers=[(evt.EVT_C_STORE, store)])
        """

    static func peer() throws -> PeerProcess {
        try SharedPeers.peer("status-scp") { try PeerProcess.script(scp, name: "status-scp") }
    }

    @Test(arguments: [
        ("A700", Int32(0xA7), "Refused: Out of resources"), ("C000", Int32(0xC0), "Error: Cannot understand"),
        ("0122", Int32(0x01), "Refused: SOP class not supported"),
        ("B000", Int32(0), "Warning: Coercion of data elements"),
    ])
    func statusIsNamedAndSetsTheExitCode(status: String, exitCode: Int32, name: String) throws {
        let peer = try Self.peer()
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(2))
        let out = try FerryCLI.run(["storescu", "-aet", status, "127.0.0.1", String(peer.port)] + files)
        #expect(out.status == exitCode, "\(out.stderr)")
        #expect(out.stderr.contains("0x\(status): \(name)"), "\(out.stderr)")
    }
}

/// --repeat, +II and --abort shape the run as in DCMTK.
@Suite(.serialized, .scratch)
struct RunOptionTests {
    @Test func repeatWithInventedInstanceUIDsThenAbort() throws {
        let out = try Corpus.temporaryDirectory("rx-repeat")
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: out)
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let source = try #require(try HeaderScan.summary(path: file).sopInstanceUID)
        let result = try FerryCLI.run([
            "storescu", "-v", "--repeat", "3", "+II", "--abort", "127.0.0.1", String(peer.port), file,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Aborting Association"))
        let received = Interop.received(out)
        #expect(received.count == 3, "three stores, three new instance UIDs")
        #expect(!received.keys.contains(source))
        #expect(received.keys.allSatisfy { UIDGrammar.isValid($0) })
    }
}
