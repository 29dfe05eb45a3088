import FerryDICOM
import Foundation
import TestSupport
import Testing

/// DCMTK getscu against `ferry qrscp` (issue 15): the sub-operations travel on the getscu's
/// own association, in the storage contexts it offered with the SCP role; compressed instances
/// it did not offer to take are decompressed on the way, losslessly.
@Suite(.scratch)
struct GetInteropTests {
    @Test func everyInstanceArrivesOnceOnTheRequestorsAssociation() throws {
        let sources = try Interop.sources("tiny")
        var studies = Set<String>()
        for path in sources.values {
            if let uid = try HeaderScan.summary(path: path).studyInstanceUID { studies.insert(uid) }
        }
        let qr = try QRSCPProcess(files: sources.values.sorted())
        defer { qr.peer.stop() }
        let out = try Corpus.temporaryDirectory("getscu")
        let r = try Tools.run(
            "/usr/bin/getscu",
            [
                "-S", "-v", "-aec", "QRSCP", "-od", out, "-k", "QueryRetrieveLevel=STUDY",
                "-k", "StudyInstanceUID=\(studies.sorted().joined(separator: "\\"))", "127.0.0.1", String(qr.peer.port),
            ], environment: ["TCP_NODELAY": "1"])
        let log = r.stdout + r.stderr
        #expect(r.status == 0, "\(log)")
        #expect(log.contains("Number of Completed Suboperations : \(sources.count)"), "\(log)")
        #expect(log.contains("Number of Failed Suboperations    : 0"), "\(log)")
        let received = Interop.received(out)
        #expect(Set(received.keys) == Set(sources.keys), "every instance once")
        #expect(DirectoryWalker().files(under: [out]).count == sources.count)
        #expect(Retrieved.problems(sources: sources, received: received) == [])
        #expect(qr.peer.log().contains("Get ended: 0x0000 (success), remaining -, completed \(sources.count)"))
    }

    /// ferry getscu proposes an Asynchronous Operations Window and ferry qrscp uses it: with
    /// a window of 16, every one of the corpus's instances is sent before the first response
    /// is read; with --async-window 1, one at a time. Every instance arrives once either way.
    @Test func theAsynchronousWindowLetsSubOperationsOverlap() throws {
        let sources = try Interop.sources("tiny")
        try #require(sources.count > 2 && sources.count <= 16)
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        for window in [16, 1] {
            let qr = try QRSCPProcess(files: sources.values.sorted())
            defer { qr.peer.stop() }
            let out = try Corpus.temporaryDirectory("getscu-window")
            let r = try FerryCLI.run(
                [
                    "getscu", "-S", "-aec", "QRSCP", "-od", out, "--async-window", String(window),
                    "-k", "QueryRetrieveLevel=STUDY", "-k",
                    "StudyInstanceUID=\(studies.sorted().joined(separator: "\\"))",
                    "127.0.0.1", String(qr.peer.port),
                ])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(Retrieved.problems(sources: sources, received: Interop.received(out)) == [])
            #expect(DirectoryWalker().files(under: [out]).count == sources.count)
            let log = qr.peer.log()
            let beforeFirstResponse = log.components(separatedBy: "Received Store Response").first ?? ""
            let sentFirst = beforeFirstResponse.components(separatedBy: "Sending file:").count - 1
            #expect(sentFirst == (window == 16 ? sources.count : 1), "window \(window): \(log)")
        }
    }
}

/// A retrieve's instances are read and sent a page at a time (`--retrieve-page`, 10,000 by
/// default): with pages of 3, a C-MOVE (new sub-associations per page) and a C-GET (on the
/// requestor's association) still deliver every instance once, with the counts of the whole.
@Suite(.scratch)
struct PagedRetrieveTests {
    @Test func pagesOfThreeDeliverEveryInstanceOnce() throws {
        let sources = try Interop.sources("tiny")
        try #require(sources.count > 6)
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        let keys = [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.sorted().joined(separator: "\\"))",
        ]
        let moved = try Corpus.temporaryDirectory("paged-move")
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "+xa", "-od", moved, String(port)], port: port)
        defer { receiver.stop() }
        let qr = try QRSCPProcess(
            files: sources.values.sorted(), extra: ["--retrieve-page", "3"], destinations: [("FERRYRX", port)])
        defer { qr.peer.stop() }

        let move = try Tools.run(
            "/usr/bin/movescu",
            ["-S", "-v", "-aec", "QRSCP", "-aem", "FERRYRX"] + keys + ["127.0.0.1", String(qr.peer.port)],
            environment: ["TCP_NODELAY": "1"])
        #expect(move.status == 0 && (move.stdout + move.stderr).contains("Received Final Move Response (Success)"))
        #expect(Retrieved.problems(sources: sources, received: Interop.received(moved)) == [])
        #expect(DirectoryWalker().files(under: [moved]).count == sources.count)
        // Each page's sub-operations went over associations of their own.
        let pages = (sources.count + 2) / 3
        #expect(receiver.logCount("Association Received") >= pages, "\(receiver.log())")

        let got = try Corpus.temporaryDirectory("paged-get")
        let get = try Tools.run(
            "/usr/bin/getscu", ["-S", "-v", "-aec", "QRSCP", "-od", got] + keys + ["127.0.0.1", String(qr.peer.port)],
            environment: ["TCP_NODELAY": "1"])
        let log = get.stdout + get.stderr
        #expect(log.contains("Number of Completed Suboperations : \(sources.count)"), "\(log)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(got)) == [])
        #expect(DirectoryWalker().files(under: [got]).count == sources.count)
        let qrLog = qr.peer.log()
        #expect(qrLog.contains("Move ended: 0x0000 (success), remaining -, completed \(sources.count), failed 0"))
        #expect(qrLog.contains("Get ended: 0x0000 (success), remaining -, completed \(sources.count), failed 0"))
    }
}
