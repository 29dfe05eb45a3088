import Foundation
import TestSupport
import Testing

/// Text a peer controls (an error comment, an answer's values, an AE title) never reaches a
/// log line or the console with its control characters (issue 29): line breaks cannot start
/// a forged log line, terminal escapes are written as \xNN. The console log sink escapes
/// every message, the run report its reasons.
@Suite(.scratch)
struct PeerTextEscapingTests {
    /// A line break, a forged warning line, a terminal title escape, a carriage return: 41
    /// characters, within an LO or an error comment.
    static let hostile = "x\nW: FORGED\u{1B}]0;pwned\u{07}\r"

    /// pynetdicom: every C-STORE refused (A700) and every C-FIND answered once then failed
    /// (C001), each with the hostile text in the error comment and the answer's Patient Name.
    static let scp = #"""
        import sys
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt, AllStoragePresentationContexts
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
        HOSTILE = "x\nW: FORGED\x1b]0;pwned\x07\r"
        def status(code):
            s = Dataset(); s.Status = code; s.ErrorComment = HOSTILE; return s
        def on_store(event): return status(0xA700)
        def on_find(event):
            ds = Dataset(); ds.QueryRetrieveLevel = "STUDY"; ds.StudyInstanceUID = "1.2.3"; ds.PatientName = HOSTILE
            yield 0xFF00, ds
            yield status(0xC001), None
        ae = AE(ae_title="HOSTILE")
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.start_server(("127.0.0.1", int(sys.argv[1])), evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_C_FIND, on_find)])
        """#

    /// No raw control character, no line starting with the forged prefix; the escaped form
    /// is there when `shown`.
    static func expectEscaped(_ output: String, _ what: String, shown: Bool = true) {
        for control in ["\u{1B}", "\u{07}", "\r"] {
            #expect(!output.contains(control), "\(what): a raw \(control.debugDescription) reached the output")
        }
        #expect(!output.hasPrefix("W: FORGED") && !output.contains("\nW: FORGED"), "\(what): a forged line\n\(output)")
        if shown { #expect(output.contains("\\x1B]0;pwned"), "\(what): the text shown escaped\n\(output)") }
    }

    @Test func peerTextIsEscapedInLogsAndReports() throws {
        let peer = try PeerProcess.script(Self.scp, name: "hostile-text-scp")
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let port = String(peer.port)

        let store = try FerryCLI.run(["storescu", "-v", "-aec", "HOSTILE", "127.0.0.1", port, file])
        Self.expectEscaped(store.stdout + store.stderr, "ferry storescu")

        let find = try FerryCLI.run([
            "findscu", "-S", "-v", "-aec", "HOSTILE", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID",
            "-k", "PatientName", "127.0.0.1", port,
        ])
        Self.expectEscaped(find.stdout + find.stderr, "ferry findscu")

        let source = try Corpus.temporaryDirectory("hostile-text-source")
        try FileManager.default.copyItem(atPath: file, toPath: source + "/1.dcm")
        let manifest = try Corpus.temporaryDirectory("hostile-text") + "/m.sqlite"
        let job = ["--manifest", manifest, "--dest", "HOSTILE@127.0.0.1:\(port)", "--name", "t", "--source", source]
        let run = try FerryCLI.run(["run"] + job + ["--quiet"])
        #expect(run.status != 0, "every store was refused")
        for format in ["table", "md"] {
            let report = try FerryCLI.run(["report"] + job + ["--format", format])
            Self.expectEscaped(report.stdout + report.stderr, "ferry report --format \(format)")
        }
    }

    /// An AE title with a line break and an escape, sent to `ferry storescp` by a raw client.
    @Test func aCallingAETitleIsEscapedInTheReceiversLog() throws {
        let port = freePort()
        let receiver = try PeerProcess(FerryCLI.path, ["storescp", "-v", "--ignore", String(port)], port: port)
        defer { receiver.stop() }
        let client =
            RawDICOMClient.helpers + #"""
                t = associate(int(sys.argv[1]), b"STORESCP", b"E\nW: FORGED\x1b[2J", b"1.2.840.10008.1.1")
                s.sendall(bytes([5, 0]) + struct.pack(">I", 4) + bytes(4))
                read_pdu()
                print("answer", t)
                """#
        let dir = try Corpus.temporaryDirectory("hostile-ae")
        try client.write(toFile: dir + "/client.py", atomically: false, encoding: .utf8)
        let out = try Tools.run(PeerProcess.python3, [dir + "/client.py", String(port)])
        #expect(out.stdout.contains("answer 2"), "\(out.stdout)\(out.stderr)")
        #expect(receiver.waitForLog("Association Release"), "\(receiver.log())")
        let log = receiver.log()
        Self.expectEscaped(log, "ferry storescp", shown: false)
        #expect(log.contains("E\\x0AW: FORGED\\x1B[2J"), "\(log)")
    }
}
