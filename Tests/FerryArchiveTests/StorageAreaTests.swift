import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Where dcmqrscp is dangerous for a migration rehearsal, `ferry qrscp` is safe (issue 15): a
/// quota refuses (A700) instead of deleting older studies, a read-only area refuses stores, a
/// duplicate SOP Instance UID keeps the stored file.
@Suite(.scratch)
struct StorageAreaTests {
    static func send(_ files: [String], to port: Int) throws -> Tools.Output {
        try Tools.run(
            "/usr/bin/dcmsend", ["-v", "-aec", "QRSCP", "--no-halt", "127.0.0.1", String(port)] + files,
            environment: ["TCP_NODELAY": "1"])
    }

    static func stored(_ qr: QRSCPProcess) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: qr.directory + "/QRSCP").filter {
            !$0.hasPrefix("ferry-index")
        }
    }

    @Test func aQuotaRefusesWithA700AndDeletesNothing() throws {
        let sources = try Interop.sources("tiny")
        var byStudy: [String: [String]] = [:]
        for (_, path) in sources {
            byStudy[try HeaderScan.summary(path: path).studyInstanceUID ?? "", default: []].append(path)
        }
        try #require(byStudy.count >= 2)
        let qr = try QRSCPProcess(files: [], quota: "(1, 1024mb)")
        defer { qr.peer.stop() }
        let studies = byStudy.keys.sorted()
        let first = byStudy[studies[0]] ?? [], second = byStudy[studies[1]] ?? []
        #expect(try Self.send(first, to: qr.peer.port).status == 0)
        let refused = try Self.send(second, to: qr.peer.port)
        #expect(refused.stderr.contains("with status REFUSED  : \(second.count)"), "\(refused.stderr)")
        #expect(qr.peer.log().contains("holds its quota of 1 studies (refused, nothing deleted)"), "\(qr.peer.log())")
        // The first study is all there; nothing of the second was kept.
        #expect(try Self.stored(qr).count == first.count)
        let (found, _) = try qr.find("-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"])
        #expect(found.compactMap { $0.string(Tag(0x0020, 0x000D)) } == [studies[0]])
    }

    @Test func aReadOnlyAreaRefusesStores() throws {
        let files = try Interop.uncompressedFiles("tiny")
        let qr = try QRSCPProcess(files: [], access: "R")
        defer { qr.peer.stop() }
        let out = try Self.send(Array(files.prefix(2)), to: qr.peer.port)
        #expect(out.stderr.contains("with status REFUSED  : 2"), "\(out.stderr)")
        #expect(qr.peer.log().contains("QRSCP has no write access"), "\(qr.peer.log())")
        #expect(try Self.stored(qr).isEmpty)
    }

    /// A second copy of a stored instance, with other bytes (an edited Image Comments) and
    /// so the same file name: the first file keeps its bytes and stays the only one.
    @Test func aDuplicateKeepsTheStoredFile() throws {
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let qr = try QRSCPProcess(files: [file])
        defer { qr.peer.stop() }
        let before = try Self.stored(qr)
        try #require(before.count == 1)
        let storedPath = qr.directory + "/QRSCP/" + before[0]
        let firstBytes = try FileBytes.readAll(storedPath)
        let edited = try Corpus.temporaryDirectory("duplicate") + "/edited.dcm"
        let original = try Part10Reader.read(path: file)
        var ds = original.dataSet
        ds.set(Tag(0x0020, 0x4000), .LT, "a second copy with other bytes")
        try FileBytes.write(try Part10Writer.encode(ds, transferSyntax: original.transferSyntax), to: edited)
        let again = try Self.send([edited], to: qr.peer.port)
        #expect(again.stderr.contains("with status SUCCESS  : 1"), "a duplicate is answered as stored: \(again.stderr)")
        #expect(qr.peer.log().contains("duplicate SOP Instance UID"), "\(qr.peer.log())")
        #expect(try Self.stored(qr) == before)
        #expect(try FileBytes.readAll(storedPath) == firstBytes, "the first file's bytes are kept")
        let (found, _) = try qr.find("-S", ["QueryRetrieveLevel=IMAGE", "SOPInstanceUID"])
        #expect(found.count == 1)
    }

    /// An instance that reuses a stored study's Study Instance UID under another Patient ID is
    /// refused (A900, both patients named in the log), so it never shows up in, or moves with,
    /// the other patient's study; likewise a series reused under another study.
    @Test func anInstanceContradictingItsStudysPatientIsRefused() throws {
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let qr = try QRSCPProcess(files: [file])
        defer { qr.peer.stop() }
        let original = try Part10Reader.read(path: file)
        let victim = try #require(original.dataSet.string(.patientID))
        let dir = try Corpus.temporaryDirectory("intruder")
        var intruder = original.dataSet
        intruder.set(.sopInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.29.1")
        intruder.set(.patientID, .LO, "INTRUDER")
        try FileBytes.write(
            try Part10Writer.encode(intruder, transferSyntax: original.transferSyntax), to: dir + "/intruder.dcm")
        var series = original.dataSet
        series.set(.sopInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.29.2")
        series.set(.studyInstanceUID, .UI, "1.2.826.0.1.3680043.10.1515.29.3")
        try FileBytes.write(
            try Part10Writer.encode(series, transferSyntax: original.transferSyntax), to: dir + "/series.dcm")
        let sent = try Self.send([dir + "/intruder.dcm", dir + "/series.dcm"], to: qr.peer.port)
        #expect(!sent.stderr.contains("with status SUCCESS  :"), "neither was stored: \(sent.stderr)")
        let log = qr.peer.log()
        #expect(log.contains("belongs to patient \"\(victim)\"") && log.contains("\"INTRUDER\""), "\(log)")
        #expect(log.contains("belongs to study"), "\(log)")
        #expect(try Self.stored(qr).count == 1, "only the first instance is kept")
        let (found, _) = try qr.find("-P", ["QueryRetrieveLevel=PATIENT", "PatientID"])
        #expect(found.compactMap { $0.string(.patientID) } == [victim], "no second patient: \(found)")
    }

    /// With --index-only and --replace-duplicates, a duplicate of an instance indexed in place
    /// is stored inside the area and indexed there; the legacy file is left byte for byte.
    @Test func aReplacedDuplicateNeverTouchesALegacyFile() throws {
        let legacy = try Corpus.temporaryDirectory("legacy")
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let legacyFile = legacy + "/old.dcm"
        try FileManager.default.copyItem(atPath: file, toPath: legacyFile)
        let legacyBytes = try FileBytes.readAll(legacyFile)
        let qr = try QRSCPProcess(files: [], extra: ["--replace-duplicates"], indexInPlace: [legacy])
        defer { qr.peer.stop() }
        let original = try Part10Reader.read(path: file)
        var ds = original.dataSet
        ds.set(.instanceNumber, .IS, "999")
        let edited = try Corpus.temporaryDirectory("duplicate") + "/edited.dcm"
        try FileBytes.write(try Part10Writer.encode(ds, transferSyntax: original.transferSyntax), to: edited)
        #expect(try Self.send([edited], to: qr.peer.port).status == 0)
        #expect(FileManager.default.fileExists(atPath: legacyFile), "\(qr.peer.log())")
        #expect(try FileBytes.readAll(legacyFile) == legacyBytes, "the legacy file is byte-identical")
        #expect(try Self.stored(qr).count == 1, "the new copy is inside the area")
        // The index points to the new copy: its Instance Number answers.
        let uid = try #require(ds.string(.sopInstanceUID))
        let (found, _) = try qr.find(
            "-S", ["QueryRetrieveLevel=IMAGE", "SOPInstanceUID=\(uid)", "InstanceNumber"] + studyAndSeries(ds))
        #expect(found.first?.string(.instanceNumber) == "999", "\(found)")
    }

    private func studyAndSeries(_ ds: DataSet) -> [String] {
        [
            "StudyInstanceUID=\(ds.string(.studyInstanceUID) ?? "")",
            "SeriesInstanceUID=\(ds.string(.seriesInstanceUID) ?? "")",
        ]
    }
}

/// dcmqrscp's association options on `ferry qrscp` (issue 15): --no-parallel-store refuses
/// the storage contexts of a second association storing into the same AE title while one
/// holds it; --require-find refuses a MOVE context proposed without its model's FIND.
@Suite(.scratch)
struct QRSCPAssociationOptionTests {
    @Test func noParallelStoreRefusesASecondStoringAssociation() throws {
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let qr = try QRSCPProcess(files: [], extra: ["--no-parallel-store"])
        defer { qr.peer.stop() }
        // pynetdicom holds one storage association open while it asks for a second, then
        // asks again after releasing the first (-1: no context accepted, no association).
        let script = """
            import sys
            from pynetdicom import AE
            from pydicom import dcmread
            port = int(sys.argv[1]); ds = dcmread(sys.argv[2])
            ae = AE(ae_title="HOLDER")
            ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
            def contexts(a):
                n = len(a.accepted_contexts) if a.is_established else -1
                if a.is_established: a.release()
                return n
            held = ae.associate("127.0.0.1", port, ae_title="QRSCP")
            print("held", len(held.accepted_contexts) if held.is_established else -1)
            print("second", contexts(ae.associate("127.0.0.1", port, ae_title="QRSCP")))
            held.release()
            print("after", contexts(ae.associate("127.0.0.1", port, ae_title="QRSCP")))
            """
        let r = try Tools.run(PeerProcess.python3, ["-c", script, String(qr.peer.port), file])
        #expect(r.stdout.contains("held 1\nsecond -1\nafter 1\n"), "\(r.stdout)\(r.stderr)")
        #expect(qr.peer.log().contains("storage refused (--no-parallel-store)"), "\(qr.peer.log())")
    }

    @Test func requireFindRefusesAMoveContextWithoutFind() throws {
        let qr = try QRSCPProcess(files: [], extra: ["--require-find"], destinations: [("DEST", freePort())])
        defer { qr.peer.stop() }
        let keys = [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.3", "127.0.0.1", String(qr.peer.port),
        ]
        // ferry movescu proposes MOVE alone: refused. DCMTK movescu proposes FIND with it: served.
        let alone = try FerryCLI.run(["movescu", "-S", "-aec", "QRSCP", "-aem", "DEST"] + keys)
        #expect(alone.status != 0 && alone.stderr.contains("accepted none"), "\(alone.stderr)")
        let withFind = try Tools.run(
            "/usr/bin/movescu", ["-S", "-v", "-aec", "QRSCP", "-aem", "DEST"] + keys, environment: ["TCP_NODELAY": "1"])
        #expect(withFind.status == 0, "\(withFind.stdout)\(withFind.stderr)")
    }
}
