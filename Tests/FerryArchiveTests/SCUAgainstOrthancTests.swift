import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry findscu`, `movescu` and `getscu` against Orthanc (Debian's package), loaded with the
/// tiny corpus by dcmsend (issue 15). Orthanc's own view of what it holds, read from its REST
/// API on loopback, is the reference: the C-FIND answers must equal it, and every instance it
/// holds must arrive once and identical by C-MOVE (its `DicomModalities` names Ferry's storage
/// SCP) and by C-GET.
@Suite(.scratch)
struct SCUAgainstOrthancTests {
    struct Orthanc {
        let peer: PeerProcess
        let http: Int
        /// What Orthanc was loaded with, by SOP Instance UID.
        let sources: [String: String]

        /// A REST resource, decoded from JSON (python's urllib: no HTTP client in the tests).
        func get(_ resource: String) throws -> Any {
            try JSONSerialization.jsonObject(with: Data(try request("GET", resource).utf8))
        }

        func request(_ method: String, _ resource: String) throws -> String {
            let r = try Tools.run(
                PeerProcess.python3,
                [
                    "-c",
                    "import sys,urllib.request as u;sys.stdout.write(u.urlopen(u.Request(sys.argv[2],method=sys.argv[1])).read().decode())",
                    method, "http://127.0.0.1:\(http)\(resource)",
                ])
            guard r.status == 0 else { throw PeerError(message: "\(method) \(resource): \(r.stderr)") }
            return r.stdout
        }

        /// A main DICOM tag of each resource of a REST listing (`/studies?expand`...).
        func tags(_ resource: String, _ tag: String) throws -> [String] {
            let list = try get(resource) as? [[String: Any]] ?? []
            return list.compactMap { ($0["MainDicomTags"] as? [String: Any])?[tag] as? String }.sorted()
        }
    }

    /// Orthanc on free ports with `destinations` as DICOM modalities, holding the tiny corpus
    /// (or nothing, with `load: false`).
    static func orthanc(destinations: [(String, Int)] = [], load: Bool = true) throws -> Orthanc {
        let dir = try Corpus.temporaryDirectory("orthanc")
        let dicom = freePort(), http = freePort()
        let modalities = destinations.map { "\"\($0.0.lowercased())\": [\"\($0.0)\", \"127.0.0.1\", \($0.1)]" }
        let configuration = """
            {
              "Name": "FerryTest", "StorageDirectory": "\(dir)/storage", "IndexDirectory": "\(dir)/index",
              "HttpPort": \(http), "DicomPort": \(dicom), "DicomAet": "ORTHANC",
              "RemoteAccessAllowed": false, "AuthenticationEnabled": false, "Plugins": [],
              "DicomAlwaysAllowFind": true, "DicomAlwaysAllowGet": true, "DicomAlwaysAllowMove": true,
              "DicomModalities": { \(modalities.joined(separator: ", ")) }
            }
            """
        try configuration.write(toFile: dir + "/orthanc.json", atomically: true, encoding: .utf8)
        let peer = try PeerProcess("/usr/sbin/Orthanc", [dir + "/orthanc.json"], port: dicom)
        guard load else { return Orthanc(peer: peer, http: http, sources: [:]) }
        let sources = try Interop.sources("tiny")
        try #require(!sources.isEmpty)
        let sent = try Tools.run(
            "/usr/bin/dcmsend", ["-aec", "ORTHANC", "127.0.0.1", String(dicom)] + sources.values.sorted(),
            environment: ["TCP_NODELAY": "1"])
        #expect(sent.status == 0, "\(sent.stderr)")
        return Orthanc(peer: peer, http: http, sources: sources)
    }

    /// ferry findscu --json: the values of `tag` (a hex tag) in its answers, sorted.
    static func find(_ port: Int, _ model: String, _ keys: [String], tag: String) throws -> [String] {
        let r = try FerryCLI.run(
            ["findscu", model, "-aec", "ORTHANC", "--json"] + keys.flatMap { ["-k", $0] } + ["127.0.0.1", String(port)])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]] ?? []
        return json.compactMap { (($0[tag] as? [String: Any])?["Value"] as? [Any])?.first.map { "\($0)" } }.sorted()
    }

    @Test func findAnswersEqualOrthancsOwnView() throws {
        let orthanc = try Self.orthanc()
        defer { orthanc.peer.stop() }
        let port = orthanc.peer.port
        let studies = try orthanc.tags("/studies?expand", "StudyInstanceUID")
        #expect(
            studies.count
                == Set(orthanc.sources.values.compactMap { try? HeaderScan.summary(path: $0).studyInstanceUID }).count)
        #expect(
            try Self.find(port, "-S", ["QueryRetrieveLevel=STUDY", "StudyInstanceUID"], tag: "0020000D") == studies)
        let patients = try orthanc.tags("/patients?expand", "PatientID")
        #expect(!patients.isEmpty)
        #expect(try Self.find(port, "-P", ["QueryRetrieveLevel=PATIENT", "PatientID"], tag: "00100020") == patients)
        // Each study's series, and its instance count as C.3.4 defines it.
        for study in try orthanc.get("/studies") as? [String] ?? [] {
            let uid = try #require(
                (try orthanc.get("/studies/\(study)") as? [String: Any]).flatMap {
                    ($0["MainDicomTags"] as? [String: Any])?["StudyInstanceUID"] as? String
                })
            let series = try orthanc.tags("/studies/\(study)/series", "SeriesInstanceUID")
            #expect(
                try Self.find(
                    port, "-S", ["QueryRetrieveLevel=SERIES", "StudyInstanceUID=\(uid)", "SeriesInstanceUID"],
                    tag: "0020000E") == series)
            let instances = (try orthanc.get("/studies/\(study)/instances") as? [Any] ?? []).count
            #expect(
                try Self.find(
                    port, "-S",
                    ["QueryRetrieveLevel=STUDY", "StudyInstanceUID=\(uid)", "NumberOfStudyRelatedInstances"],
                    tag: "00201208") == [String(instances)])
        }
        // A wild-card name query, matched by Orthanc.
        let does = try Self.find(
            port, "-P", ["QueryRetrieveLevel=PATIENT", "PatientID", "PatientName=DOE*"], tag: "00100020")
        #expect(does == patients)
    }

    /// Every instance Orthanc holds moved (both studies, into movescu's +P storage SCP: Orthanc
    /// sends a file as it is when its association offered that syntax, and decompresses it
    /// otherwise) and the uncompressed ones got (Orthanc 1.10's C-GET cannot transcode JPEG 2000 for a
    /// requestor that offers only uncompressed syntaxes, as getscu does): once each, identical.
    @Test func moveAndGetDeliverWhatOrthancHolds() throws {
        let listen = freePort()
        let orthanc = try Self.orthanc(destinations: [("FERRYMV", listen)])
        defer { orthanc.peer.stop() }
        let held = try orthanc.tags("/instances?expand", "SOPInstanceUID")
        #expect(held == orthanc.sources.keys.sorted())
        let studies = try orthanc.tags("/studies?expand", "StudyInstanceUID")
        let moved = try Corpus.temporaryDirectory("movescu-orthanc")
        let move = try FerryCLI.run(
            [
                "movescu", "-S", "-aec", "ORTHANC", "-aet", "FERRYMV", "+P", String(listen), "-od", moved,
                "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=\(studies.joined(separator: "\\"))",
                "127.0.0.1", String(orthanc.peer.port),
            ])
        #expect(move.status == 0, "\(move.stderr)")
        #expect(Interop.received(moved).keys.sorted() == held)
        #expect(Retrieved.problems(sources: orthanc.sources, received: Interop.received(moved)) == [])
        #expect(DirectoryWalker().files(under: [moved]).count == held.count)

        let plain = try Interop.uncompressedFiles("tiny")
        let uids = try plain.compactMap { try HeaderScan.summary(path: $0).sopInstanceUID }
        try #require(!uids.isEmpty)
        let got = try Corpus.temporaryDirectory("getscu-orthanc")
        let get = try FerryCLI.run(
            [
                "getscu", "-S", "-aec", "ORTHANC", "-od", got, "-k", "QueryRetrieveLevel=IMAGE",
                "-k", "SOPInstanceUID=\(uids.joined(separator: "\\"))", "127.0.0.1", String(orthanc.peer.port),
            ])
        #expect(get.status == 0, "\(get.stderr)")
        #expect(Interop.received(got).keys.sorted() == uids.sorted())
        #expect(
            Interop.compare(sent: orthanc.sources.filter { uids.contains($0.key) }, received: Interop.received(got))
                .isEmpty)
    }
}
