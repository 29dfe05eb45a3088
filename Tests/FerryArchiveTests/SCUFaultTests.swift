import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Ferry's Q/R clients against a `ferry qrscp` that misbehaves through its test switches
/// (issue 15): a peer that never sends the final response is ended by the DIMSE timeout, and
/// one that aborts in the middle of a move is reported, with what arrived kept.
@Suite(.scratch)
struct SCUFaultTests {
    static func studies(_ files: [String]) throws -> String {
        Set(try files.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID }).sorted().joined(separator: "\\")
    }

    @Test func aFinalResponseThatNeverComesEndsAtTheDIMSETimeout() throws {
        let files = try Corpus.files("tiny").filter { $0.hasSuffix(".dcm") }
        let archive = try QRSCPProcess(files: files, extra: ["--stall-before-final", "3600"])
        defer { archive.peer.stop() }
        let address = ["127.0.0.1", String(archive.peer.port)]
        let find = try FerryCLI.run(
            [
                "findscu", "-S", "-v", "-aec", "QRSCP", "-td", "2", "-k", "QueryRetrieveLevel=STUDY", "-k",
                "StudyInstanceUID",
            ]
                + address)
        #expect(find.status != 0, "\(find.stderr)")
        #expect(find.stderr.contains("timeout") || find.stderr.contains("timed out"), "\(find.stderr)")
        // The answers before the stall were shown: every study once.
        #expect(find.stderr.components(separatedBy: "Find Response").count - 1 >= 2, "\(find.stderr)")

        let listen = freePort()
        let stalled = try QRSCPProcess(
            files: files, extra: ["--stall-before-final", "3600"], destinations: [("FERRYMV", listen)])
        defer { stalled.peer.stop() }
        let out = try Corpus.temporaryDirectory("stalled-move")
        let move = try FerryCLI.run(
            [
                "movescu", "-S", "-aec", "QRSCP", "-aet", "FERRYMV", "+P", String(listen), "-od", out, "-td", "2",
                "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(try Self.studies(files))",
                "127.0.0.1", String(stalled.peer.port),
            ])
        #expect(move.status != 0, "\(move.stderr)")
        #expect(move.stderr.contains("timeout") || move.stderr.contains("timed out"), "\(move.stderr)")
        // The sub-operations ended before the stall: every instance arrived.
        #expect(Interop.received(out).count == files.count)
    }

    @Test func anAbortMidMoveIsReportedAndWhatArrivedIsKept() throws {
        // The 52 uncompressed files of the small corpus: the archive's pending
        // responses trail its sub-operations, and under the full suite's load the 14 files of
        // the tiny corpus could all arrive before the third response.
        let files = try Interop.uncompressedFiles("small")
        let listen = freePort()
        let archive = try QRSCPProcess(
            files: files, extra: ["--abort-after-responses", "3"], destinations: [("FERRYMV", listen)])
        defer { archive.peer.stop() }
        let out = try Corpus.temporaryDirectory("aborted-move")
        // The storage SCP grants no window: sub-operations go one at a time, so the abort
        // after 3 responses comes before the last of them (under a window all can be sent).
        let move = try FerryCLI.run(
            [
                "movescu", "-S", "-aec", "QRSCP", "-aet", "FERRYMV", "+P", String(listen), "-od", out,
                "--async-window", "1",
                "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(try Self.studies(files))",
                "127.0.0.1", String(archive.peer.port),
            ])
        #expect(move.status != 0, "\(move.stderr)")
        #expect(move.stderr.lowercased().contains("abort"), "\(move.stderr)")
        let arrived = Interop.received(out)
        #expect(arrived.count >= 3 && arrived.count < files.count, "\(arrived.count) of \(files.count)")
        #expect(
            Interop.compare(sent: try Interop.sources("small").filter { arrived[$0.key] != nil }, received: arrived)
                .isEmpty)
    }
}
