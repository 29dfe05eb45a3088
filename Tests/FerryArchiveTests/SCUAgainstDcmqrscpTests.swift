import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry findscu`, `movescu` and `getscu` against DCMTK dcmqrscp (fork mode; its -s crashes on Debian 12's 3.6.7)
/// and against `ferry qrscp` (issue 15): its answers equal DCMTK findscu's, and its exit codes
/// are DCMTK's.
@Suite(.scratch)
struct SCUAgainstDcmqrscpTests {
    /// dcmqrscp with one storage area, loaded with the tiny corpus's uncompressed files (it
    /// takes no compressed syntax by default).
    static func dcmqrscp(destinations: [(String, Int)] = []) throws -> (PeerProcess, [String]) {
        let dir = try Corpus.temporaryDirectory("dcmqrscp")
        let area = dir + "/DCMQR"
        try FileManager.default.createDirectory(atPath: area, withIntermediateDirectories: true)
        let port = freePort()
        let config = QRSCPProcess.configuration(
            port: port, aeTitle: "DCMQR", area: area, quota: "(100, 1024mb)", destinations: destinations)
        try config.write(toFile: dir + "/dcmqrscp.cfg", atomically: true, encoding: .utf8)
        let peer = try PeerProcess("/usr/bin/dcmqrscp", ["-c", dir + "/dcmqrscp.cfg", String(port)], port: port)
        let files = try Interop.uncompressedFiles("tiny")
        let sent = try Tools.run(
            "/usr/bin/dcmsend", ["-aec", "DCMQR", "127.0.0.1", String(port)] + files,
            environment: ["TCP_NODELAY": "1"])
        guard sent.status == 0 else { throw PeerError(message: "dcmsend: \(sent.stderr)") }
        return (peer, files)
    }

    /// The values of `tag` in DCMTK findscu's extracted answers and in ferry findscu's JSON.
    static func both(
        port: Int, aet: String, model: String, keys: [String], tag: String
    ) throws -> (dcmtk: [String], ferry: [String]) {
        let out = try Corpus.temporaryDirectory("findscu-x")
        _ = try Tools.run(
            "/usr/bin/findscu",
            [model, "-aec", aet, "-X", "-od", out] + keys.flatMap { ["-k", $0] } + [
                "127.0.0.1", String(port),
            ], environment: ["TCP_NODELAY": "1"])
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("rsp") }
        let t = try #require(DataDictionary.tag(forKeyword: tag))
        let dcmtk = try files.compactMap { try Part10Reader.read(path: out + "/" + $0).dataSet.string(t) }.sorted()
        let r = try FerryCLI.run(
            ["findscu", model, "-aec", aet, "--json"] + keys.flatMap { ["-k", $0] } + ["127.0.0.1", String(port)])
        guard r.status == 0 else { throw PeerError(message: "ferry findscu: \(r.stderr)") }
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        let key = String(format: "%08X", t.rawValue)
        let ferry = json.compactMap { ($0[key] as? [String: Any])?["Value"] as? [Any] }.compactMap {
            values -> String? in
            if let s = values.first as? String { return s }
            if let pn = values.first as? [String: Any] { return pn["Alphabetic"] as? String }
            return nil
        }.sorted()
        return (dcmtk, ferry)
    }

    @Test func answersEqualDCMTKFindscusAgainstDcmqrscp() throws {
        let (peer, files) = try Self.dcmqrscp()
        defer { peer.stop() }
        try #require(!files.isEmpty)
        let studies = try Self.both(
            port: peer.port, aet: "DCMQR", model: "-S",
            keys: ["QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName"],
            tag: "StudyInstanceUID")
        #expect(!studies.dcmtk.isEmpty && studies.ferry == studies.dcmtk)
        let names = try Self.both(
            port: peer.port, aet: "DCMQR", model: "-P",
            keys: ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=DOE*"],
            tag: "PatientName")
        #expect(!names.dcmtk.isEmpty && names.ferry == names.dcmtk)
        // IMAGE level below one study and series (dcmqrscp needs the unique keys above).
        let ds = try HeaderScan.header(path: files[0]).dataSet
        let study = ds.string(Tag(0x0020, 0x000D)) ?? "", series = ds.string(Tag(0x0020, 0x000E)) ?? ""
        let images = try Self.both(
            port: peer.port, aet: "DCMQR", model: "-S",
            keys: [
                "QueryRetrieveLevel=IMAGE", "StudyInstanceUID=\(study)", "SeriesInstanceUID=\(series)",
                "SOPInstanceUID",
            ],
            tag: "SOPInstanceUID")
        #expect(!images.dcmtk.isEmpty && images.ferry == images.dcmtk)
    }

    @Test func exitCodesAreDCMTKs() throws {
        let closed = freePort()
        let down = try FerryCLI.run(["findscu", "-S", "-k", "QueryRetrieveLevel=STUDY", "127.0.0.1", String(closed)])
        #expect(down.status == 2, "no association: \(down.stderr)")
        let badKey = try FerryCLI.run(["findscu", "-S", "-k", "NoSuchKeyword=1", "127.0.0.1", String(closed)])
        #expect(badKey.status == 1 && badKey.stderr.contains("unknown attribute NoSuchKeyword"), "\(badKey.stderr)")
        let badFile = try FerryCLI.run(["findscu", "-S", "127.0.0.1", String(closed), "/nonexistent.dcm"])
        #expect(badFile.status == 1, "\(badFile.stderr)")
        // A missing output directory is named before any association, not refused store by store.
        let noDir = try FerryCLI.run(["getscu", "-S", "-od", "/nonexistent/out", "127.0.0.1", String(closed)])
        #expect(noDir.status == 1 && noDir.stderr.contains("/nonexistent/out"), "\(noDir.stderr)")
    }

    /// ferry movescu (with its own storage SCP, +P) and ferry getscu against dcmqrscp: every
    /// instance arrives once and identical.
    @Test func moveAndGetFromDcmqrscpDeliverEveryInstance() throws {
        let listen = freePort()
        let (peer, files) = try Self.dcmqrscp(destinations: [("FERRYMV", listen)])
        defer { peer.stop() }
        var sources: [String: String] = [:]
        var studies = Set<String>()
        for f in files {
            let s = try HeaderScan.summary(path: f)
            if let uid = s.sopInstanceUID { sources[uid] = f }
            if let study = s.studyInstanceUID { studies.insert(study) }
        }
        let keys = [
            "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.sorted().joined(separator: "\\"))",
        ]
        let moved = try Corpus.temporaryDirectory("movescu")
        let move = try FerryCLI.run(
            ["movescu", "-S", "-aec", "DCMQR", "-aet", "FERRYMV", "+P", String(listen), "-od", moved] + keys + [
                "127.0.0.1", String(peer.port),
            ])
        #expect(move.status == 0, "\(move.stderr)")
        #expect(Interop.compare(sent: sources, received: Interop.received(moved)).isEmpty)
        #expect(DirectoryWalker().files(under: [moved]).count == files.count)
        let got = try Corpus.temporaryDirectory("getscu")
        let get = try FerryCLI.run(
            ["getscu", "-S", "-aec", "DCMQR", "-od", got] + keys + ["127.0.0.1", String(peer.port)])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(Interop.compare(sent: sources, received: Interop.received(got)).isEmpty)
        #expect(DirectoryWalker().files(under: [got]).count == files.count)
        // An unknown destination: dcmqrscp answers A801, movescu's exit code is DCMTK's 69.
        let unknown = try FerryCLI.run(
            ["movescu", "-S", "-aec", "DCMQR", "-aem", "NOBODY"] + keys + ["127.0.0.1", String(peer.port)])
        #expect(unknown.status == 69 && unknown.stderr.contains("0xA801"), "\(unknown.stderr)")
    }
}
