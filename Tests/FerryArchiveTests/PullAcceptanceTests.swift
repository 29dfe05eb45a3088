import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// Pull jobs by C-MOVE against real sources (issue 30's acceptance): Ferry's own receiver,
/// started by `ferry run`, is the move destination; the destination is DCMTK storescp taking
/// uncompressed syntaxes only, so every compressed instance is decoded on the way. Every
/// instance the source holds arrives, identical or with the source's decoded pixels, the
/// manifest accounts for each, and the staging folder is empty at the end.
@Suite(.scratch)
struct PullByMoveTests {
    /// Runs a pull by C-MOVE from `called`@`source` with Ferry's receiver on `receiver` to DCMTK
    /// storescp (uncompressed only) and checks what arrived.
    static func pullAndCheck(called: String, source: Int, receiver: Int, sources: [String: String]) throws {
        let received = try Corpus.temporaryDirectory("move-received")
        let destination = try PeerProcess.dcmtkStorescp(outputDirectory: received)
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-move")
        try PullJob.write(
            in: dir, source: source, called: called, retrieve: "move", destination: destination.port,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver)}"])
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [], "\(run.stderr)")
        #expect(DirectoryWalker().files(under: [dir + "/pull-staging"]).isEmpty, "staged files removed once sent")
        let status = try FerryCLI.run(["status", dir + "/pull.yaml"])
        let done = try Regex("done +\(sources.count)\n")
        #expect(
            status.stdout.contains("listed: \(sources.count) instances") && status.stdout.contains(done),
            "\(status.stdout)")
    }

    /// Orthanc (Debian's package) with `destinations` as its modalities, loaded with the small
    /// corpus through its REST API.
    static func orthancWithSmallCorpus(
        destinations: [(String, Int)]
    ) throws -> (SCUAgainstOrthancTests.Orthanc, [String: String]) {
        let orthanc = try SCUAgainstOrthancTests.orthanc(destinations: destinations, load: false)
        let sources = try Interop.sources("small")
        try #require(!sources.isEmpty)
        let upload = try Tools.run(
            PeerProcess.python3,
            [
                "-c",
                """
                import sys, urllib.request as u
                for f in sys.argv[2:]:
                    u.urlopen(u.Request(sys.argv[1], data=open(f, 'rb').read(), method='POST')).read()
                """,
                "http://127.0.0.1:\(orthanc.http)/instances",
            ] + sources.values.sorted())
        try #require(upload.status == 0, "\(upload.stderr)")
        try #require((try orthanc.get("/instances") as? [Any])?.count == sources.count)
        return (orthanc, sources)
    }

    /// From Orthanc, Ferry's receiver registered as its modality FERRY.
    @Test func fromOrthanc() throws {
        let port = freePort()
        let (orthanc, sources) = try Self.orthancWithSmallCorpus(destinations: [("FERRY", port)])
        defer { orthanc.peer.stop() }
        try Self.pullAndCheck(called: "ORTHANC", source: orthanc.peer.port, receiver: port, sources: sources)
    }

    /// `move-direct` from Orthanc to `ferry qrscp` (Ferry's storage SCP with its Q/R, which
    /// Orthanc knows as QRSCP): Orthanc sends every instance itself, Ferry relays nothing and
    /// confirms each by C-FIND at the destination; a second run moves nothing again.
    @Test func moveDirectFromOrthanc() throws {
        let destination = try QRSCPProcess(files: [])
        defer { destination.peer.stop() }
        let (orthanc, sources) = try Self.orthancWithSmallCorpus(destinations: [("QRSCP", destination.peer.port)])
        defer { orthanc.peer.stop() }
        let dir = try Corpus.temporaryDirectory("pull-direct")
        try PullJob.write(
            in: dir, source: orthanc.peer.port, called: "ORTHANC", retrieve: "move-direct",
            destination: destination.peer.port, destinationAE: "QRSCP")
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(
            Retrieved.problems(sources: sources, received: Interop.received(destination.directory + "/QRSCP")) == [])
        let status = try FerryCLI.run(["status", dir + "/pull.yaml"])
        #expect(status.stdout.contains("received: \(sources.count) of the listed"), "\(status.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/direct-staging"), "nothing staged")
        let stores = destination.peer.logCount("Received Store Request")
        #expect(stores == sources.count)
        let again = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(destination.peer.logCount("Received Store Request") == stores, "no second move")
        // ferry verify confirms every instance moved by UID at the destination; one removed
        // from the destination's index is missing, and --resend has the next run move it again.
        let verify = try FerryCLI.run(["verify", dir + "/pull.yaml"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(
            verify.stdout.contains("\(sources.count) sent, \(sources.count) verified, 0 missing"), "\(verify.stdout)")
        let gone = try #require(sources.keys.sorted().first)
        let removed = try Tools.run(
            PeerProcess.python3,
            [
                "-c",
                "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); n=d.execute('DELETE FROM instance WHERE uid=?',(sys.argv[2],)).rowcount; d.commit(); print(n)",
                destination.directory + "/QRSCP/ferry-index.sqlite", gone,
            ])
        try #require(removed.status == 0 && removed.stdout.hasPrefix("1"), "\(removed.stderr)\(removed.stdout)")
        let missing = try FerryCLI.run(["verify", dir + "/pull.yaml", "--resend"])
        #expect(missing.status == 1, "\(missing.stdout)\(missing.stderr)")
        #expect(
            missing.stdout.contains("1 missing") && missing.stdout.contains("missing: \(gone)"), "\(missing.stdout)")
        let moveAgain = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(moveAgain.status == 0, "\(moveAgain.stdout)\(moveAgain.stderr)")
        let last = try FerryCLI.run(["verify", dir + "/pull.yaml"])
        #expect(last.status == 0 && last.stdout.contains("0 missing"), "\(last.stdout)\(last.stderr)")
        let report = try FerryCLI.run(["report", dir + "/pull.yaml"]).stdout
        #expect(report.contains("forwarded: 0; verified: \(sources.count)"), "\(report)")
    }

    /// DCMTK dcmqrscp (fork mode) holding files as a DCMTK archive does, compressed: each SOP
    /// class in one syntax (dcmqrscp sends every file of a class on the first context accepted
    /// for it, so a class held in two compressed syntaxes cannot be moved whole): from the small
    /// corpus, each class's most common compressed syntax (CT and CR in JPEG lossless, MR in
    /// RLE, SC in JPEG baseline) and the uncompressed US. Registered in its index by dcmqridx,
    /// FERRY in its host table, an outgoing profile that offers each class in its syntax.
    @Test func fromDcmqrscp() throws {
        let receiver = freePort()
        let dir = try Corpus.temporaryDirectory("dcmqrscp-compressed")
        let area = dir + "/DCMQR"
        try FileManager.default.createDirectory(atPath: area, withIntermediateDirectories: true)
        var byClass: [String: [String: [(String, String)]]] = [:]
        for (uid, path) in try Interop.sources("small") {
            let s = try HeaderScan.summary(path: path)
            byClass[s.sopClassUID ?? "", default: [:]][s.transferSyntaxUID, default: []].append((uid, path))
        }
        var sources: [String: String] = [:], held: [String: String] = [:]
        for (_, syntaxes) in byClass {
            let compressed = syntaxes.filter { TransferSyntax.lookup($0.key)?.isEncapsulated == true }
            let pool = compressed.isEmpty ? syntaxes : compressed
            guard let pick = pool.max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) }) else { continue }
            for (uid, path) in pick.value {
                sources[uid] = path
                held[uid] = area + "/" + uid
                try FileManager.default.copyItem(atPath: path, toPath: area + "/" + uid)
            }
        }
        try #require(Set(held.values.map { try HeaderScan.summary(path: $0).transferSyntaxUID }).count >= 3)
        let indexed = try Tools.run("/usr/bin/dcmqridx", [area] + held.values.sorted())
        try #require(indexed.status == 0, "\(indexed.stderr)")
        let port = freePort()
        let config = QRSCPProcess.configuration(
            port: port, aeTitle: "DCMQR", area: area, destinations: [("FERRY", receiver)])
        try config.write(toFile: dir + "/dcmqrscp.cfg", atomically: true, encoding: .utf8)
        let profile = try Self.outgoingProfile(for: held, directory: dir)
        let peer = try PeerProcess(
            "/usr/bin/dcmqrscp", ["-c", dir + "/dcmqrscp.cfg", "-xf", profile, "Default", "Out", String(port)],
            port: port)
        defer { peer.stop() }
        try Self.pullAndCheck(called: "DCMQR", source: port, receiver: receiver, sources: sources)
    }

    /// A DCMTK association profile whose outgoing contexts offer each held file's SOP class in
    /// each held syntax, one syntax a context (dcmqrscp's -x? options propose one compressed
    /// syntax for every class), so every file can go as it is held; incoming as DCMTK's default.
    static func outgoingProfile(for files: [String: String], directory: String) throws -> String {
        var pairs = Set<[String]>()
        for path in files.values {
            let s = try HeaderScan.summary(path: path)
            pairs.insert([s.sopClassUID ?? "", s.transferSyntaxUID])
        }
        let syntaxes = Set(pairs.map { $0[1] }).sorted()
        var text = "[[TransferSyntaxes]]\n"
        for (i, ts) in syntaxes.enumerated() { text += "[TS\(i)]\nTransferSyntax1 = \(ts)\n" }
        text += "[Plain]\nTransferSyntax1 = 1.2.840.10008.1.2.1\nTransferSyntax2 = 1.2.840.10008.1.2\n"
        text += "[[PresentationContexts]]\n[Out]\n"
        for (i, pair) in pairs.sorted(by: { $0.joined() < $1.joined() }).enumerated() {
            text += "PresentationContext\(i + 1) = \(pair[0])\\TS\(syntaxes.firstIndex(of: pair[1]) ?? 0)\n"
        }
        text += "[In]\n"
        let classes =
            Set(pairs.map { $0[0] }).sorted() + [
                "1.2.840.10008.5.1.4.1.2.2.1", "1.2.840.10008.5.1.4.1.2.2.2", "1.2.840.10008.1.1",
            ]
        for (i, c) in classes.enumerated() { text += "PresentationContext\(i + 1) = \(c)\\Plain\n" }
        text += "[[Profiles]]\n[Default]\nPresentationContexts = In\n[Out]\nPresentationContexts = Out\n"
        let path = directory + "/profile.cfg"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }
}

/// A source that falls short (pynetdicom's Q/R SCP, scripted to fail the way PACS do): the
/// first move of the one-instance study ends A702 with nothing sent; the first move of the
/// other fails its first sub-operation (an instance of a class the move did not negotiate) and
/// answers success before its last, so the final status is B000 and one instance is simply not
/// sent; one instance fails on every move. Ferry retries each study on the job's back-off,
/// asking only for the instances that did not come, until it has every instance, and reports
/// the one that never came, by UID.
@Suite(.scratch)
struct PullFromFaltingSourceTests {
    static let script = """
        import copy, logging, os, sys
        from pydicom import dcmread
        from pydicom.dataset import Dataset
        from pydicom.multival import MultiValue
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import (StudyRootQueryRetrieveInformationModelFind,
                                          StudyRootQueryRetrieveInformationModelMove)

        logging.basicConfig(level=logging.INFO)
        port, receiver, folder, never = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
        files = []
        for root, _, names in os.walk(folder):
            for name in names:
                try:
                    files.append(dcmread(os.path.join(root, name)))
                except Exception:
                    pass
        attempts = {}
        LEVEL_KEY = {'STUDY': 'StudyInstanceUID', 'SERIES': 'SeriesInstanceUID', 'IMAGE': 'SOPInstanceUID'}

        def matches(ds, ident):
            for kw in ('StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID'):
                if kw in ident and ident[kw].value not in (None, ''):
                    wanted = ident[kw].value
                    wanted = list(wanted) if isinstance(wanted, MultiValue) else [wanted]
                    if ds.get(kw) not in wanted:
                        return False
            return True

        def on_find(event):
            ident = event.identifier
            level = ident.QueryRetrieveLevel
            groups = {}
            for ds in files:
                if matches(ds, ident):
                    groups.setdefault(ds.get(LEVEL_KEY[level]), []).append(ds)
            for _, group in sorted(groups.items()):
                out = Dataset()
                out.QueryRetrieveLevel = level
                for elem in ident:
                    kw = elem.keyword
                    if kw == 'QueryRetrieveLevel':
                        continue
                    if kw in ('NumberOfStudyRelatedInstances', 'NumberOfSeriesRelatedInstances'):
                        setattr(out, kw, len(group))
                    elif kw == 'ModalitiesInStudy':
                        out.ModalitiesInStudy = sorted({d.Modality for d in group})
                    elif elem.tag in group[0]:
                        out[elem.tag] = group[0][elem.tag]
                    else:
                        out.add_new(elem.tag, elem.VR, None)
                yield 0xFF00, out

        def on_move(event):
            study = event.identifier.StudyInstanceUID
            n = attempts[study] = attempts.get(study, 0) + 1
            group = sorted((d for d in files if matches(d, event.identifier)), key=lambda d: d.SOPInstanceUID)
            yield '127.0.0.1', receiver
            yield len(group)
            if len(group) == 1 and n == 1:
                yield 0xA702, None
                return
            for i, ds in enumerate(group):
                if ds.SOPInstanceUID == never or (n == 1 and i == 0):
                    bad = copy.deepcopy(ds)
                    bad.SOPClassUID = '1.2.826.0.1.3680043.10.1515.99.1'
                    yield 0xFF00, bad
                elif n == 1 and i == len(group) - 1:
                    yield 0x0000, None
                    return
                else:
                    yield 0xFF00, ds

        ae = AE(ae_title='FLAKY')
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
        for pair in sorted({(d.SOPClassUID, d.file_meta.TransferSyntaxUID) for d in files}):
            ae.add_requested_context(*pair)
        ae.start_server(('127.0.0.1', port), evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_C_MOVE, on_move)])
        """

    @Test func shortfallsAreRetriedThenReportedByUID() throws {
        let sources = try Interop.sources("tiny")
        var studies: [String: [String]] = [:]
        for (uid, path) in sources {
            studies[try HeaderScan.summary(path: path).studyInstanceUID ?? "", default: []].append(uid)
        }
        let large = try #require(studies.values.first { $0.count > 3 }?.sorted())
        try #require(studies.values.contains { $0.count == 1 })
        let never = large[1]
        let folder = try #require(try Interop.corpusRoots("tiny").first).components(separatedBy: "/").dropLast().joined(
            separator: "/")
        let dir = try Corpus.temporaryDirectory("pull-falting")
        try Self.script.write(toFile: dir + "/flaky.py", atomically: false, encoding: .utf8)
        let (port, receiver) = (freePort(), freePort())
        let source = try PeerProcess(
            PeerProcess.python3, [dir + "/flaky.py", String(port), String(receiver), folder, never], port: port)
        defer { source.stop() }
        let received = try Corpus.temporaryDirectory("falting-received")
        let destination = try PeerProcess.ferryStorescp(outputDirectory: received)
        let destinationPort = destination.port
        defer { destination.stop() }
        try PullJob.write(
            in: dir, source: port, called: "FLAKY", destination: destinationPort,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver)}"], transfer: "{max_attempts: 3, backoff: 0.1}")
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("not received: \(never)"), "\(run.stdout)")
        // The source did fall short as scripted (its own log).
        #expect(source.log().contains("0xA702") && source.log().contains("0xB000"), "\(source.log())")
        var expected = sources
        expected[never] = nil
        #expect(Retrieved.problems(sources: expected, received: Interop.received(received)) == [], "\(run.stderr)")
        #expect(Interop.received(received)[never] == nil)
        // A retry asks only for what did not come (IMAGE level, by UID): nothing is sent twice.
        #expect(destination.logCount("Received Store Request") == expected.count)
        let m = try Manifest(path: dir + "/pull.sqlite", exclusive: false)
        #expect(try m.missingInstances().map(\.uid) == [never])
        let status = try FerryCLI.run(["status", dir + "/pull.yaml"])
        #expect(status.stdout.contains("not received: \(never)"), "\(status.stdout)")
        #expect(DirectoryWalker().files(under: [dir + "/pull-staging"]).isEmpty, "staged files removed once sent")
        // Both sides in the progress line and in each form of the report.
        #expect(
            run.stderr.contains(
                "pull: \(studies.count)/\(studies.count) studies retrieved, \(expected.count)/\(sources.count) listed instances"
            ),
            "\(run.stderr)")
        let table = try FerryCLI.run(["report", dir + "/pull.yaml"]).stdout
        #expect(table.contains("not received: \(never) (study "), "\(table)")
        #expect(
            table.contains("retrieved: \(expected.count) of the listed instances; forwarded: \(expected.count)"),
            "\(table)")
        let json = try FerryCLI.run(["report", dir + "/pull.yaml", "--format", "json"]).stdout
        let report = try JSONDecoder().decode(RunReport.self, from: Data(json.utf8))
        #expect(report.source?.notReceived.map(\.sopInstanceUID) == [never])
        #expect(report.source?.forwarded == expected.count)
        #expect(report.source?.inventory.listedInstances == sources.count)
        let csv = try FerryCLI.run(["report", dir + "/pull.yaml", "--format", "csv"]).stdout
        #expect(csv.contains(",not-received,,\(never),"), "\(csv)")
    }
}

/// kill -9 five times during a pull by C-MOVE of a 300-image study and the small corpus from
/// `ferry qrscp`, one study a batch (so kills land in retrieves, sends and the steps between),
/// resumed each time: every instance reaches the destination identical, no study is moved
/// again unless it was retrieving at a kill, no instance is stored twice unless it was being
/// sent at a kill (the manifest's `retrieving` and `sending` states after each kill), and
/// nothing is left in staging.
@Suite(.scratch)
struct PullKilledFiveTimesTests {
    @Test func everyInstanceArrivesAndRepeatsAreBounded() throws {
        var sources = try Interop.sources("small")
        for path in DirectoryWalker().files(under: try Interop.corpusRoots("ct-series", count: 300)) {
            if let uid = try? HeaderScan.summary(path: path).sopInstanceUID { sources[uid] = path }
        }
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID }).count
        let receiver = freePort()
        let qr = try QRSCPProcess(
            files: sources.values.sorted(), extra: ["--sleep-between-responses", "0.01"],
            destinations: [("FERRY", receiver)])
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("killed-received")
        let port = freePort()
        let destination = try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "+xa", "--sleep-after", "0.01", "-od", received, String(port)], port: port
        )
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-killed")
        try PullJob.write(
            in: dir, source: qr.peer.port, destination: port,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver), max_staging: 1K}", "max_retrieves: 1"],
            transfer: "{associations: 1, async_window: 1}")
        let staging = dir + "/pull-staging"
        let stored = { destination.logCount("Received Store Request") }
        var (inFlight, retrieving) = (0, 0)
        // Alternately while staged files wait (a retrieve, or its send) and as the destination
        // passes a count.
        for kill in 1...5 {
            let target = kill * sources.count / 6
            let run = try PeerProcess(
                FerryCLI.path, ["run", dir + "/pull.yaml", "--quiet"], port: 0, waitForPort: false)
            #expect(
                waitUntil(timeout: 300) {
                    !run.isRunning
                        || (stored() >= target && (kill % 2 == 1 || !DirectoryWalker().files(under: [staging]).isEmpty))
                }, "kill \(kill)")
            #expect(run.isRunning, "the run was still going at kill \(kill): \(run.log())")
            Foundation.kill(run.pid, SIGKILL)
            run.stop()
            // What the manifest had in flight (sent, no terminal record yet): what may go twice.
            let status = try FerryCLI.run(["status", dir + "/pull.yaml"]).stdout
            if let m = status.firstMatch(of: /sending +(\d+)/), let n = Int(m.1) { inFlight += n }
            if let m = status.firstMatch(of: /retrieving (\d+)/), let n = Int(m.1) { retrieving += n }
        }
        let last = try FerryCLI.run(["run", dir + "/pull.yaml", "--quiet"])
        #expect(last.status == 0, "\(last.stdout)\(last.stderr)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
        #expect(DirectoryWalker().files(under: [staging]).isEmpty, "no orphan in staging")
        // One request a study, two for the 300-image one (256 UIDs a request); a study in
        // flight at a kill may be asked again, its pending instances in at most two requests.
        let moves = qr.peer.logCount("Received Move Request")
        #expect(
            moves >= studies + 1 && moves <= studies + 1 + 2 * retrieving,
            "\(moves) moves for \(studies) studies, \(retrieving) in flight")
        #expect(
            stored() >= sources.count && stored() <= sources.count + inFlight,
            "\(stored()) stores of \(sources.count), \(inFlight) in flight at the kills")
    }
}

/// A study of more instances than one request asks for is forwarded while it arrives: with one
/// retrieve at a time from a source that takes its time (`ferry qrscp` pausing between
/// responses), the destination stores instances of a 600-image study while the manifest still
/// has the study `retrieving`; a study retrieved whole before it is sent cannot show both.
@Suite(.scratch)
struct PullForwardsWhileArrivingTests {
    @Test func aLargeStudyIsSentWhileItArrives() throws {
        var sources: [String: String] = [:]
        for path in DirectoryWalker().files(under: try Interop.corpusRoots("ct-series", count: 600)) {
            if let uid = try? HeaderScan.summary(path: path).sopInstanceUID { sources[uid] = path }
        }
        let receiver = freePort()
        let qr = try QRSCPProcess(
            files: sources.values.sorted(), extra: ["--sleep-between-responses", "0.01"],
            destinations: [("FERRY", receiver)])
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("arriving-received")
        let destination = try PeerProcess.ferryStorescp(outputDirectory: received)
        let port = destination.port
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-arriving")
        try PullJob.write(
            in: dir, source: qr.peer.port, destination: port,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver)}", "max_retrieves: 1"])
        let run = try PeerProcess(FerryCLI.path, ["run", dir + "/pull.yaml"], port: 0, waitForPort: false)
        defer { run.stop() }
        var seen = (stored: 0, status: "")
        let overlapped = waitUntil(timeout: 120) {
            guard run.isRunning else { return false }
            seen.stored = destination.logCount("Received Store Request")
            guard seen.stored > 0 else { return false }
            seen.status = (try? FerryCLI.run(["status", dir + "/pull.yaml"]).stdout) ?? ""
            return seen.status.contains("retrieving 1")
        }
        #expect(overlapped, "stored \(seen.stored) while: \(seen.status)\n\(run.log())")
        #expect(waitUntil(timeout: 120) { !run.isRunning }, "the run ends")
        #expect(run.exitStatus == 0, "\(run.log())")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
        #expect(run.log().contains("(0 studies complete)"), "a piece of the study sent on its own: \(run.log())")
    }
}

/// A source that sends no pending C-MOVE responses (they are optional) on a study that takes
/// longer than the DIMSE timeout to send: while its instances keep arriving at Ferry's receiver
/// the wait for the final response goes on, so the study is moved once and nothing is missing
/// (with no extension, the move times out and, with one attempt, is reported missing).
@Suite(.scratch)
struct PullFromSilentSourceTests {
    @Test func theDIMSEWaitGoesOnWhileInstancesArrive() throws {
        let sources = try Interop.sources("tiny")
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID }).count
        let receiver = freePort()
        let qr = try QRSCPProcess(
            files: sources.values.sorted(),
            extra: ["--no-pending-responses", "--sleep-between-responses", "0.3", "--retrieve-page", "1"],
            destinations: [("FERRY", receiver)])
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("silent-received")
        let destination = try PeerProcess.ferryStorescp(outputDirectory: received)
        let port = destination.port
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-silent")
        try PullJob.write(
            in: dir, source: qr.peer.port, destination: port,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver)}", "max_retrieves: 1"],
            transfer: "{dimse_timeout: 1, max_attempts: 1}")
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)\n\(qr.peer.log().suffix(3000))")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
        #expect(qr.peer.logCount("Received Move Request") == studies, "each study moved once: \(qr.peer.log())")
    }
}

/// `ferry run --follow`: a pull keeps in sync until stopped. The source (`ferry qrscp`) first
/// holds the tiny corpus but one study and one instance of the other; once the run has sent
/// what it holds, both are added to the source. They reach the destination within two passes
/// of the trailing window (a new study, and a study whose source count changed, of which only
/// the new instance is retrieved), and nothing is sent twice.
@Suite(.scratch)
struct PullFollowTests {
    @Test func whatIsAddedArrivesWithinTwoPasses() throws {
        let sources = try Interop.sources("tiny")
        var studies: [String: [String]] = [:]
        for (uid, path) in sources {
            studies[try HeaderScan.summary(path: path).studyInstanceUID ?? "", default: []].append(uid)
        }
        let single = try #require(studies.values.first { $0.count == 1 })
        let large = try #require(studies.values.first { $0.count > 3 }?.sorted())
        let later = [single[0], large[2]].compactMap { sources[$0] }
        let receiver = freePort()
        let qr = try QRSCPProcess(
            files: sources.values.filter { !later.contains($0) }.sorted(), destinations: [("FERRY", receiver)])
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("follow-received")
        let destination = try PeerProcess.ferryStorescp(outputDirectory: received)
        let port = destination.port
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-follow")
        try PullJob.write(
            in: dir, source: qr.peer.port, destination: port,
            sourceLines: ["receiver: {ae: FERRY, port: \(receiver)}", "follow: {interval: 1s, window: 100y}"])
        let run = try PeerProcess(FerryCLI.path, ["run", dir + "/pull.yaml"], port: 0, waitForPort: false)
        defer { run.stop() }
        let stored = { destination.logCount("Received Store Request") }
        #expect(waitUntil(timeout: 120) { stored() == sources.count - 2 }, "\(run.log())")
        #expect(run.waitForLog("follow: pass 1:"), "\(run.log())")
        let sent = try Tools.run(
            "/usr/bin/dcmsend", ["-aec", "QRSCP", "127.0.0.1", String(qr.peer.port)] + later,
            environment: ["TCP_NODELAY": "1"])
        try #require(sent.status == 0, "\(sent.stderr)")
        let passesBefore = run.logCount("follow: pass ")
        #expect(waitUntil(timeout: 120) { stored() >= sources.count }, "\(run.log())")
        let passesAfter = run.logCount("follow: pass ")
        #expect(passesAfter - passesBefore <= 2, "\(passesAfter - passesBefore) passes: \(run.log())")
        kill(run.pid, SIGINT)
        #expect(waitUntil(timeout: 60) { !run.isRunning }, "the run stops on SIGINT")
        #expect(stored() == sources.count, "nothing sent twice: \(run.log())")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
        #expect(run.log().contains("1 new studies, 1 changed"), "\(run.log())")
        let status = try FerryCLI.run(["status", dir + "/pull.yaml"])
        #expect(status.stdout.contains("follow: \(run.logCount("follow: pass ")) passes"), "\(status.stdout)")
        let report = try FerryCLI.run(["report", dir + "/pull.yaml"]).stdout
        #expect(report.contains("(\(run.logCount("follow: pass ")) passes)"), "the last sync: \(report)")
    }
}
