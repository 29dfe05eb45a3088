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
}
