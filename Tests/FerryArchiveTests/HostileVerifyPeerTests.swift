import Foundation
import TestSupport
import Testing

/// `ferry verify` against a destination that answers each study query with 600 identifiers
/// of 1 MB (pynetdicom, scripted): the answers are read one at a time and only the values the
/// check needs are kept, so memory stays bounded. Before, every answer was kept until the
/// query ended (1.2 GB, still running after 15 minutes).
@Suite(.scratch)
struct HostileVerifyPeerTests {
    static let scp = #"""
        import sys
        from pydicom.dataset import Dataset
        from pynetdicom import AE, evt, AllStoragePresentationContexts
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind
        def on_store(event): return 0x0000
        def on_find(event):
            request = event.identifier
            if request.QueryRetrieveLevel != "STUDY":
                return
            for n in range(600):
                ds = Dataset()
                ds.QueryRetrieveLevel = "STUDY"
                ds.StudyInstanceUID = request.StudyInstanceUID
                ds.NumberOfStudyRelatedInstances = "1"
                ds.private_block(0x0011, "HOSTILE", create=True).add_new(0x01, "OB", bytes(1_000_000))
                yield 0xFF00, ds
        ae = AE(ae_title="HOSTILE")
        ae.supported_contexts = AllStoragePresentationContexts
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.maximum_pdu_size = 0
        ae.start_server(("127.0.0.1", int(sys.argv[1])), evt_handlers=[(evt.EVT_C_STORE, on_store), (evt.EVT_C_FIND, on_find)])
        """#

    @Test func sixHundredAnswersOfOneMegabyteKeepVerifyUnder200MB() throws {
        let peer = try PeerProcess.script(Self.scp, name: "hostile-find-scp")
        defer { peer.stop() }
        let source = try Corpus.directory("tiny")
        let dest = "HOSTILE@127.0.0.1:\(peer.port)"
        let manifest = try Corpus.temporaryDirectory("verify-hostile") + "/v.sqlite"
        // The tiny corpus holds one file no peer takes: the run ends with one failure.
        _ = try VerifyTests.ferry("run", manifest: manifest, dest: dest, source: source, ["--quiet"])
        let (out, kib) = try PeakMemory.run(
            FerryCLI.path,
            [
                "verify", "--manifest", manifest, "--dest", dest, "--name", "v", "--source", source, "--calling-ae",
                "FERRY", "--quiet",
            ])
        // The peer lists no series: every instance is reported missing, after every answer was read.
        #expect(out.status == 1, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains(" sent, 0 verified, "), "\(out.stdout)")
        #expect(kib < 200 * 1024, "ferry verify peaked at \(kib / 1024) MB")
    }
}
