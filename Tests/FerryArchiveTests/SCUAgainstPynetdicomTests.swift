import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry findscu`, `movescu` and `getscu` against pynetdicom's qrscp application (issue 15):
/// each gives what pynetdicom's own findscu, movescu and getscu give. The archive holds the
/// tiny corpus's uncompressed files: pynetdicom's SCP sends each file only in its own
/// transfer syntax, and both clients propose the uncompressed ones.
@Suite(.scratch)
struct SCUAgainstPynetdicomTests {
    /// pynetdicom's qrscp on a free port, loaded by dcmsend, with `destinations` as its move
    /// destinations; returns it with the files it holds.
    static func qrscp(destinations: [(String, Int)] = []) throws -> (PeerProcess, [String]) {
        let dir = try Corpus.temporaryDirectory("pynetdicom-qrscp")
        let port = freePort()
        try FileManager.default.createDirectory(atPath: dir + "/instances", withIntermediateDirectories: true)
        var ini = """
            [DEFAULT]
            ae_title: PYQR
            port: \(port)
            max_pdu: 16382
            acse_timeout: 30
            dimse_timeout: 30
            network_timeout: 30
            log_identifier: False
            bind_address: 127.0.0.1
            instance_location: \(dir)/instances
            database_location: \(dir)/index.sqlite

            """
        for (ae, listen) in destinations { ini += "[\(ae)]\naddress: 127.0.0.1\nport: \(listen)\n\n" }
        try ini.write(toFile: dir + "/qrscp.ini", atomically: true, encoding: .utf8)
        let peer = try PeerProcess(
            PeerProcess.python3, ["-m", "pynetdicom", "qrscp", "-c", dir + "/qrscp.ini"], port: port)
        let files = try Interop.uncompressedFiles("tiny")
        try #require(!files.isEmpty)
        let sent = try Tools.run(
            "/usr/bin/dcmsend", ["-aec", "PYQR", "127.0.0.1", String(port)] + files, environment: ["TCP_NODELAY": "1"])
        #expect(sent.status == 0, "\(sent.stderr)")
        return (peer, files)
    }

    /// Runs a pynetdicom application in `directory` (findscu writes its answers there).
    static func pynetdicom(_ app: String, _ arguments: [String], in directory: String) throws -> Tools.Output {
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        return try Tools.run(
            "/bin/sh", ["-c", "cd '\(directory)' && '\(PeerProcess.python3)' -m pynetdicom \(app) \(quoted)"])
    }

    @Test func answersEqualPynetdicomsFindscu() throws {
        let (peer, files) = try Self.qrscp()
        defer { peer.stop() }
        var studies = Set<String>()
        for f in files { if let study = try HeaderScan.summary(path: f).studyInstanceUID { studies.insert(study) } }

        // pynetdicom's findscu (-w writes each answer) against ferry findscu --json.
        let out = try Corpus.temporaryDirectory("pynetdicom-findscu")
        let keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "PatientID"]
        let pyRun = try Self.pynetdicom(
            "findscu", ["-S", "-aec", "PYQR", "-w", "127.0.0.1", String(peer.port)] + keys, in: out)
        #expect(pyRun.status == 0, "\(pyRun.stderr)")
        let pyFiles = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("rsp") }
        let pyUIDs = try pyFiles.compactMap {
            try Part10Reader.read(path: out + "/" + $0).dataSet.string(Tag(0x0020, 0x000D))
        }
        .sorted()
        let ferry = try FerryCLI.run(
            ["findscu", "-S", "-aec", "PYQR", "--json"] + keys + ["127.0.0.1", String(peer.port)])
        #expect(ferry.status == 0, "\(ferry.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(ferry.stdout.utf8)) as? [[String: Any]] ?? []
        let ferryUIDs = json.compactMap { (($0["0020000D"] as? [String: Any])?["Value"] as? [String])?.first }.sorted()
        // That qrscp answers a STUDY query once per instance; both clients show each answer.
        #expect(!pyUIDs.isEmpty && ferryUIDs == pyUIDs)
        #expect(Set(ferryUIDs) == studies)
    }

    /// One patient moved (into each client's own storage SCP) and got: Ferry's tools receive
    /// the same instances as pynetdicom's, identical to the files the archive was loaded with.
    @Test func moveAndGetEqualPynetdicomsClients() throws {
        let ferryListen = freePort(), pyListen = freePort()
        let (peer, files) = try Self.qrscp(destinations: [("FERRYMV", ferryListen), ("PYMV", pyListen)])
        defer { peer.stop() }
        var byPatient: [String: [String: String]] = [:]
        for f in files {
            let s = try HeaderScan.header(path: f).dataSet
            if let patient = s.string(Tag(0x0010, 0x0020)), let uid = s.string(Tag(0x0008, 0x0018)) {
                byPatient[patient, default: [:]][uid] = f
            }
        }
        // The patient with the most instances, so the move has several sub-operations.
        let (patient, sources) = try #require(byPatient.max { $0.value.count < $1.value.count })
        try #require(sources.count > 1)
        let keys = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=\(patient)"]
        let address = ["127.0.0.1", String(peer.port)]

        let pyMoved = try Corpus.temporaryDirectory("pynetdicom-movescu")
        let pyMove = try Self.pynetdicom(
            "movescu",
            [
                "-P", "-aec", "PYQR", "-aet", "PYMV", "-aem", "PYMV", "--store", "--store-port", String(pyListen),
                "-od", pyMoved,
            ]
                + keys + address, in: pyMoved)
        #expect(pyMove.status == 0, "\(pyMove.stderr)")
        let moved = try Corpus.temporaryDirectory("ferry-movescu")
        let move = try FerryCLI.run(
            ["movescu", "-P", "-aec", "PYQR", "-aet", "FERRYMV", "+P", String(ferryListen), "-od", moved] + keys
                + address)
        #expect(move.status == 0, "\(move.stderr)")
        #expect(Interop.received(pyMoved).count == sources.count)
        #expect(Set(Interop.received(moved).keys) == Set(Interop.received(pyMoved).keys))
        #expect(Interop.compare(sent: sources, received: Interop.received(moved)).isEmpty)
        #expect(DirectoryWalker().files(under: [moved]).count == sources.count)

        let pyGot = try Corpus.temporaryDirectory("pynetdicom-getscu")
        let pyGet = try Self.pynetdicom("getscu", ["-P", "-aec", "PYQR", "-od", pyGot] + keys + address, in: pyGot)
        #expect(pyGet.status == 0, "\(pyGet.stderr)")
        let got = try Corpus.temporaryDirectory("ferry-getscu")
        let get = try FerryCLI.run(["getscu", "-P", "-aec", "PYQR", "-od", got] + keys + address)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(Interop.received(pyGot).count == sources.count)
        #expect(Set(Interop.received(got).keys) == Set(Interop.received(pyGot).keys))
        #expect(Interop.compare(sent: sources, received: Interop.received(got)).isEmpty)
        #expect(DirectoryWalker().files(under: [got]).count == sources.count)
    }
}
