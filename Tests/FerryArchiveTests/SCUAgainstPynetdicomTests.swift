import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry findscu` against pynetdicom's qrscp application (issue 15): the answers equal
/// pynetdicom's own findscu's (it answers one STUDY response per instance, and both clients
/// show each). C-MOVE and C-GET against it are not covered yet (see the README).
@Suite(.scratch)
struct SCUAgainstPynetdicomTests {
    @Test func answersEqualPynetdicomsFindscu() throws {
        let dir = try Corpus.temporaryDirectory("pynetdicom-qrscp")
        let port = freePort()
        try FileManager.default.createDirectory(atPath: dir + "/instances", withIntermediateDirectories: true)
        let ini = """
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
        try ini.write(toFile: dir + "/qrscp.ini", atomically: true, encoding: .utf8)
        let peer = try PeerProcess(
            PeerProcess.python3, ["-m", "pynetdicom", "qrscp", "-c", dir + "/qrscp.ini"], port: port)
        defer { peer.stop() }
        let files = try Interop.uncompressedFiles("tiny")
        try #require(!files.isEmpty)
        let sent = try Tools.run(
            "/usr/bin/dcmsend", ["-aec", "PYQR", "127.0.0.1", String(port)] + files, environment: ["TCP_NODELAY": "1"])
        #expect(sent.status == 0, "\(sent.stderr)")
        var studies = Set<String>()
        for f in files { if let study = try HeaderScan.summary(path: f).studyInstanceUID { studies.insert(study) } }

        // C-FIND: pynetdicom's findscu (-w writes each answer) against ferry findscu --json.
        let out = try Corpus.temporaryDirectory("pynetdicom-findscu")
        let keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID", "-k", "PatientID"]
        // pynetdicom's findscu writes its answers into the current directory: run from `out`.
        let pyRun = try Tools.run(
            "/bin/sh",
            [
                "-c",
                "cd '\(out)' && '\(PeerProcess.python3)' -m pynetdicom findscu -S -aec PYQR -w 127.0.0.1 \(port) \(keys.joined(separator: " "))",
            ])
        #expect(pyRun.status == 0, "\(pyRun.stderr)")
        let pyFiles = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("rsp") }
        let pyUIDs = try pyFiles.compactMap {
            try Part10Reader.read(path: out + "/" + $0).dataSet.string(Tag(0x0020, 0x000D))
        }
        .sorted()
        let ferry = try FerryCLI.run(["findscu", "-S", "-aec", "PYQR", "--json"] + keys + ["127.0.0.1", String(port)])
        #expect(ferry.status == 0, "\(ferry.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(ferry.stdout.utf8)) as? [[String: Any]] ?? []
        let ferryUIDs = json.compactMap { (($0["0020000D"] as? [String: Any])?["Value"] as? [String])?.first }.sorted()
        #expect(!pyUIDs.isEmpty && ferryUIDs == pyUIDs)
        #expect(Set(ferryUIDs) == studies)
    }
}
