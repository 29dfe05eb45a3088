import FerryDICOM
import Foundation
import TestSupport
import Testing

/// DCMTK movescu against `ferry qrscp` (issue 15): C-MOVE into DCMTK storescp and into
/// `ferry storescp`, every instance once and identical; unknown and unreachable destinations,
/// sub-operations the destination refuses, cancel.
@Suite(.scratch)
struct MoveInteropTests {
    static func corpus() throws -> (files: [String], sources: [String: String], studies: [String]) {
        let sources = try Interop.sources("tiny")
        var studies = Set<String>()
        for path in sources.values {
            if let uid = try HeaderScan.summary(path: path).studyInstanceUID { studies.insert(uid) }
        }
        return (sources.values.sorted(), sources, studies.sorted())
    }

    static func files(in dir: String) -> [String] { DirectoryWalker().files(under: [dir]) }

    @Test func everyInstanceArrivesOnceAndIdenticalInDCMTKAndFerryReceivers() throws {
        let (files, sources, studies) = try Self.corpus()
        let dcmtkDir = try Corpus.temporaryDirectory("move-dcmtk")
        let profile = try Interop.acceptAllProfile(for: sources, directory: dcmtkDir)
        let dcmtkOut = dcmtkDir + "/out"
        try FileManager.default.createDirectory(atPath: dcmtkOut, withIntermediateDirectories: true)
        // DCMTK storescp taking every syntax, so compressed instances travel as they are.
        let dcmtk = try PeerProcess.dcmtkStorescp(outputDirectory: dcmtkOut, ["-xf", profile, "AcceptAll"])
        defer { dcmtk.stop() }
        let ferryOut = try Corpus.temporaryDirectory("move-ferry")
        let ferryPort = freePort()
        let ferry = try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "+xa", "-od", ferryOut, String(ferryPort)], port: ferryPort)
        defer { ferry.stop() }
        let qr = try QRSCPProcess(files: files, destinations: [("DCMTKRX", dcmtk.port), ("FERRYRX", ferryPort)])
        defer { qr.peer.stop() }

        for (name, dir) in [("DCMTKRX", dcmtkOut), ("FERRYRX", ferryOut)] {
            let log = try qr.move(studies: studies, to: name)
            #expect(log.contains("Received Final Move Response (Success)"), "\(name): \(log)")
            let received = Self.files(in: dir)
            #expect(received.count == files.count, "\(name): every instance once")
            #expect(Interop.compare(sent: sources, received: Interop.received(dir)).isEmpty, "\(name)")
        }
        // The sub-operations name the move's originator (PS3.7 9.3.1.1) and come from the AE
        // title the mover called.
        #expect(qr.peer.log().contains("Move ended: 0x0000 (success), remaining -, completed \(files.count), failed 0"))
        #expect(ferry.log().contains("Association Received from 127.0.0.1"))
        #expect(ferry.log().contains("QRSCP -> FERRYRX"), "\(ferry.log())")
    }

    @Test func unknownAndUnreachableDestinationsAndRefusedSubOperations() throws {
        let (files, sources, studies) = try Self.corpus()
        let closed = freePort()
        // A receiver that takes MR images only: the secondary capture ones fail (no context).
        let mr = sources.filter { (try? HeaderScan.summary(path: $0.value).sopClassUID) == "1.2.840.10008.5.1.4.1.1.4" }
        try #require(!mr.isEmpty && mr.count < sources.count)
        let dir = try Corpus.temporaryDirectory("move-mr-only")
        let profile = try Interop.acceptAllProfile(for: mr, directory: dir)
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let mrOnly = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["-xf", profile, "AcceptAll"])
        defer { mrOnly.stop() }
        let qr = try QRSCPProcess(files: files, destinations: [("DOWN", closed), ("MRONLY", mrOnly.port)])
        defer { qr.peer.stop() }

        let unknown = try qr.move(studies: studies, to: "NOBODY")
        #expect(unknown.contains("Received Final Move Response (Refused: MoveDestinationUnknown)"), "\(unknown)")

        let down = try qr.move(studies: studies, to: "DOWN")
        #expect(down.contains("Received Final Move Response (Refused: OutOfResourcesSubOperations)"), "\(down)")
        #expect(qr.peer.log().contains("Move ended: 0xA702 (unable to perform sub-operations)"), "\(qr.peer.log())")
        #expect(qr.peer.log().contains("completed 0, failed \(files.count), warning 0"))

        let partial = try qr.move(studies: studies, to: "MRONLY")
        #expect(
            partial.contains("Received Final Move Response (Warning: SubOperationsCompleteOneOrMoreFailures)"),
            "\(partial)")
        #expect(
            qr.peer.log().contains(
                "Move ended: 0xB000 (sub-operations complete, one or more failures), remaining -, completed \(mr.count), failed \(files.count - mr.count)"
            ),
            "\(qr.peer.log())")
        #expect(Self.files(in: out).count == mr.count)
    }

    @Test func cancelStopsTheSubOperations() throws {
        let (files, _, studies) = try Self.corpus()
        let out = try Corpus.temporaryDirectory("move-cancel")
        let port = freePort()
        // A slow receiver (0.3 s after each store), so the cancel arrives mid-move. It grants no
        // Asynchronous Operations Window: with one, the sub-operations already sent (up to 16)
        // are past recall, and the 14 files would all be under way before the cancel.
        let slow = try PeerProcess(
            FerryCLI.path,
            ["storescp", "+xa", "--sleep-after", "0.3", "--async-window", "1", "-od", out, String(port)], port: port)
        defer { slow.stop() }
        let qr = try QRSCPProcess(files: files, destinations: [("SLOW", port)])
        defer { qr.peer.stop() }
        let log = try qr.move(studies: studies, to: "SLOW", extra: ["--cancel", "1"])
        #expect(
            log.contains("Received Final Move Response (Cancel: SubOperationsTerminatedDueToCancelIndication)"),
            "\(log)")
        #expect(qr.peer.log().contains("Move ended: 0xFE00 (cancelled)"), "\(qr.peer.log())")
        #expect(Self.files(in: out).count < files.count)
    }
}

/// `ferry qrscp --index-only` (issue 15): a legacy folder is served where it is.
@Suite(.scratch)
struct IndexInPlaceTests {
    @Test func aFolderIndexedInPlaceIsQueriedAndMovedWithoutACopy() throws {
        let sources = try Interop.sources("tiny")
        let folder = try Corpus.directory("tiny")  // also holds a marker file that is no DICOM
        let out = try Corpus.temporaryDirectory("index-move")
        let port = freePort()
        let rx = try PeerProcess(FerryCLI.path, ["storescp", "+xa", "-od", out, String(port)], port: port)
        defer { rx.stop() }
        let qr = try QRSCPProcess(files: [], destinations: [("RX", port)], indexInPlace: [folder])
        defer { qr.peer.stop() }
        let indexing = try #require(qr.indexing)
        #expect(indexing.status == 1, "one file was not indexed: \(indexing.stderr)")
        #expect(
            indexing.stdout.contains(
                "indexed \(sources.count) instances for QRSCP, 0 duplicates kept out, 1 files not indexed"))
        #expect(indexing.stderr.contains(".complete"), "\(indexing.stderr)")
        // Nothing was copied into the area: only the index is there.
        let area = try FileManager.default.contentsOfDirectory(atPath: qr.directory + "/QRSCP")
        #expect(area.allSatisfy { $0.hasPrefix("ferry-index.sqlite") }, "\(area)")
        var studies = Set<String>()
        for p in sources.values { if let s = try HeaderScan.summary(path: p).studyInstanceUID { studies.insert(s) } }
        let (found, _) = try qr.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        #expect(found.count == studies.count)
        let log = try qr.move(studies: studies.sorted(), to: "RX")
        #expect(log.contains("Received Final Move Response (Success)"), "\(log)")
        #expect(Interop.compare(sent: sources, received: Interop.received(out)).isEmpty)
    }
}

/// dcmqrscp's -ZA: a move goes only to the AE title that asks for it.
@Suite(.scratch)
struct MoveRestrictionTests {
    @Test func moveAETitleRestrictsTheDestinationToTheMover() throws {
        let sources = try Interop.sources("tiny")
        var studies = Set<String>()
        for p in sources.values { if let s = try HeaderScan.summary(path: p).studyInstanceUID { studies.insert(s) } }
        let out = try Corpus.temporaryDirectory("za")
        let port = freePort()
        let rx = try PeerProcess(FerryCLI.path, ["storescp", "+xa", "-od", out, String(port)], port: port)
        defer { rx.stop() }
        let qr = try QRSCPProcess(files: sources.values.sorted(), extra: ["-ZA"], destinations: [("RX", port)])
        defer { qr.peer.stop() }
        let other = try qr.move(studies: studies.sorted(), to: "RX")
        #expect(other.contains("Received Final Move Response (Refused: MoveDestinationUnknown)"), "\(other)")
        let own = try qr.move(studies: studies.sorted(), to: "RX", extra: ["-aet", "RX"])
        #expect(own.contains("Received Final Move Response (Success)"), "\(own)")
        #expect(Interop.received(out).count == sources.count)
    }

    /// -XM: a move whose query level's unique key is empty or universal (PATIENT with
    /// PatientID=* or empty, STUDY with an empty Study Instance UID) would move the whole area:
    /// refused (A900), nothing sent.
    @Test(arguments: [
        ["QueryRetrieveLevel=PATIENT", "PatientID=*"], ["QueryRetrieveLevel=PATIENT", "PatientID="],
        ["QueryRetrieveLevel=STUDY", "PatientID=PID1", "StudyInstanceUID="],
    ])
    func aUniversalMoveIsRefusedUnderCheckMove(keys: [String]) throws {
        let out = try Corpus.temporaryDirectory("xm")
        let port = freePort()
        let rx = try PeerProcess(FerryCLI.path, ["storescp", "+xa", "-od", out, String(port)], port: port)
        defer { rx.stop() }
        let qr = try QRSCPProcess(
            files: try Interop.uncompressedFiles("tiny"), extra: ["-XM"], destinations: [("RX", port)])
        defer { qr.peer.stop() }
        let r = try Tools.run(
            "/usr/bin/movescu",
            ["-P", "-v", "-aec", "QRSCP", "-aem", "RX"] + keys.flatMap { ["-k", $0] } + [
                "127.0.0.1", String(qr.peer.port),
            ],
            environment: ["TCP_NODELAY": "1"])
        #expect(
            (r.stdout + r.stderr).contains("Final Move Response (Error: DataSetDoesNotMatchSOPClass)"),
            "A900: \(r.stdout) \(r.stderr)")
        #expect(qr.peer.log().contains("needs its unique key"), "\(qr.peer.log())")
        #expect(Interop.received(out).isEmpty, "nothing was moved")
    }
}

/// `--move-associations N`: the sub-operations of one C-MOVE over N associations at once.
@Suite(.scratch)
struct ParallelMoveTests {
    @Test func subOperationsOverThreeAssociationsDeliverEveryInstanceOnce() throws {
        let sources = try Interop.sources("tiny")
        var studies = Set<String>()
        for p in sources.values { if let s = try HeaderScan.summary(path: p).studyInstanceUID { studies.insert(s) } }
        let out = try Corpus.temporaryDirectory("parallel-move")
        let port = freePort()
        let rx = try PeerProcess(FerryCLI.path, ["storescp", "-v", "+xa", "-od", out, String(port)], port: port)
        defer { rx.stop() }
        let qr = try QRSCPProcess(
            files: sources.values.sorted(), extra: ["--move-associations", "3"], destinations: [("RX", port)])
        defer { qr.peer.stop() }
        let log = try qr.move(studies: studies.sorted(), to: "RX")
        #expect(log.contains("Received Final Move Response (Success)"), "\(log)")
        #expect(Interop.compare(sent: sources, received: Interop.received(out)).isEmpty)
        #expect(DirectoryWalker().files(under: [out]).count == sources.count)
        #expect(rx.logCount("Association Received from") == 3, "\(rx.log())")
    }

    /// The default's extra sub-associations are optional: a single-process DCMTK storescp
    /// (slowed to 1 s a store) serves one association at a time and leaves the others
    /// waiting; an extra one that waits past 3 s gives its files back, and every instance
    /// arrives once, with the move a success.
    @Test func extraAssociationsADestinationLeavesWaitingGiveTheirFilesBack() throws {
        // Twelve files (DCMTK 3.6.7 takes none in HTJ2K): three associations take four each,
        // so whichever storescp serves first, the second in line waits 4 s, and of the second
        // and the third (which waits 8 s) one is an extra that gives up.
        let sources = Dictionary(
            uniqueKeysWithValues: try Interop.sources("tiny").sorted { $0.key < $1.key }.filter {
                try !HeaderScan.summary(path: $0.value).transferSyntaxUID.hasPrefix("1.2.840.10008.1.2.4.20")
            }.prefix(12).map { ($0.key, $0.value) })
        try #require(sources.count == 12)
        var studies = Set<String>()
        for p in sources.values { if let s = try HeaderScan.summary(path: p).studyInstanceUID { studies.insert(s) } }
        let out = try Corpus.temporaryDirectory("single-process-move")
        let rx = try PeerProcess.dcmtkStorescp(outputDirectory: out, ["+xa", "--sleep-after", "1"])
        defer { rx.stop() }
        let qr = try QRSCPProcess(files: sources.values.sorted(), destinations: [("RX", rx.port)])
        defer { qr.peer.stop() }
        let log = try qr.move(studies: studies.sorted(), to: "RX")
        #expect(log.contains("Received Final Move Response (Success)"), "\(log)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(out)) == [])
        #expect(DirectoryWalker().files(under: [out]).count == sources.count)
        #expect(qr.peer.log().contains("An extra association was not accepted"), "\(qr.peer.log())")
    }

    /// A destination that accepts connections and never answers: the move fails (A702, every
    /// instance listed) after one wait for the first association and one for the files the
    /// extra ones gave back, not one wait per batch of files.
    @Test func aSilentDestinationFailsTheMoveWithoutWaitingPerBatch() throws {
        let sources = try Interop.sources("tiny")
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        let silent = try PeerProcess.script(
            """
            import socket, sys
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
            held = []
            while True: held.append(s.accept()[0])
            """, name: "silent")
        defer { silent.stop() }
        let qr = try QRSCPProcess(
            files: sources.values.sorted(), extra: ["-ta", "1"], destinations: [("SILENT", silent.port)])
        defer { qr.peer.stop() }
        let log = try qr.move(studies: studies.sorted(), to: "SILENT")
        #expect(log.contains("Received Final Move Response (Refused: OutOfResourcesSubOperations)"), "\(log)")
        #expect(qr.peer.log().contains("completed 0, failed \(sources.count), warning 0"), "\(qr.peer.log())")
        #expect(qr.peer.logCount("Association Request Failed") == 2, "\(qr.peer.log())")
    }
}
