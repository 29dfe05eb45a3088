import FerryDICOM
import FerryMigration
import FerryNetwork
import FerryServices
import Foundation
import Logging
import TestSupport
import Testing

/// The inventory of a pull job (issue 30, first part) against `ferry qrscp` capping its
/// answers: 40 studies, 12 of them on one day at times two hours apart; every study is listed
/// once whatever the cap, by halving date ranges and then the day's time.
@Suite(.scratch)
struct StudyInventoryTests {
    static let studies = 40

    /// A Study Root C-FIND on a new association to `port`, as the inventory asks it.
    static func finder(port: Int) -> StudyInventory.Find {
        { keys, each in
            try await withTaskExecutorPreference(EventLoopExecutor.shared) {
                let sopClass = InformationModel.studyRoot.sopClass(.find)
                var parameters = AssociationParameters()
                parameters.calledAE = "QRSCP"
                parameters.presentationContexts = [
                    PresentationContextProposal(
                        id: 1, abstractSyntax: sopClass, transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
                ]
                let association = try await Association.open(host: "127.0.0.1", port: port, parameters: parameters)
                let capped = try await FindSCU.findCapped(
                    keys, on: association, sopClass: sopClass, peer: "ferry qrscp", each: each)
                try? await association.release()
                return capped
            }
        }
    }

    static func inventory(_ query: PullQuery, port: Int) async throws -> ([InventoriedStudy], StudyInventory.Outcome) {
        var listed: [InventoriedStudy] = []
        let outcome = try await StudyInventory(query, today: "20261207").run(find: finder(port: port)) {
            listed.append($0)
        }
        return (listed, outcome)
    }

    @Test func aCappedSourceIsListedWhole() async throws {
        let qr = try QRSCPProcess(
            files: [], extra: ["--cap-results", "4"], synthetic: Self.studies * 100, sameDay: 12)
        defer { qr.peer.stop() }
        // No date range: the universal query is capped, the dates from 1900 are walked.
        let (all, outcome) = try await Self.inventory(PullQuery(), port: qr.peer.port)
        #expect(all.count == Self.studies, "\(outcome)")
        #expect(Set(all.map(\.uid)).count == Self.studies, "each study once")
        #expect(all.allSatisfy { $0.instances == 100 }, "the source's counts are kept")
        #expect(outcome.gaps.count == 1 && outcome.gaps[0].contains("without a Study Date"), "\(outcome.gaps)")
        // The day of twelve studies needed its time halved: four answers at most a query.
        #expect(outcome.queries > Self.studies / 4)

        // A range of one year in slices of a month, and a day: only their studies.
        var query = PullQuery()
        (query.from, query.to, query.sliceDays) = ("20150101", "20151231", 31)
        let (year, yearOutcome) = try await Self.inventory(query, port: qr.peer.port)
        #expect(year.allSatisfy { $0.date.hasPrefix("2015") } && year.count >= 12, "\(year.map(\.date))")
        #expect(yearOutcome.gaps.isEmpty)
        (query.from, query.to, query.sliceDays) = ("20150615", "20150615", nil)
        let (day, _) = try await Self.inventory(query, port: qr.peer.port)
        #expect(day.count == 12, "\(day.map(\.date))")
    }

    /// Without a cap, one universal query lists everything.
    @Test func anUncappedSourceNeedsOneQuery() async throws {
        let qr = try QRSCPProcess(files: [], synthetic: Self.studies * 100, sameDay: 12)
        defer { qr.peer.stop() }
        let (all, outcome) = try await Self.inventory(PullQuery(), port: qr.peer.port)
        #expect(all.count == Self.studies && outcome.queries == 1 && outcome.gaps.isEmpty, "\(outcome)")
    }
}

/// `ferry plan` of a pull job (issue 30, first part): the job file's `source.pacs` and
/// `source.query` read as written, the source's studies, series and instances listed into the
/// manifest, listed again without duplicates; `ferry run` refuses the job in words until
/// retrieving is built.
@Suite(.scratch)
struct PullPlanTests {
    @Test func planInventoriesTheSourceIntoTheManifest() throws {
        let qr = try QRSCPProcess(files: [], extra: ["--cap-results", "5"], synthetic: 4000, sameDay: 12)
        defer { qr.peer.stop() }
        let dir = try Corpus.temporaryDirectory("pull-plan")
        let job = """
            name: pull
            source:
              pacs: {host: 127.0.0.1, port: \(qr.peer.port), called_ae: QRSCP, calling_ae: FERRY}
              query: {from: 2010-01-01, to: 2026-12-31, slice: 1y, max_answers: 1000}
              retrieve: move
              receiver: {ae: FERRY, port: \(freePort()), staging: \(dir)/staging, max_staging: 20GB}
              max_retrieves: 2
            destination: {host: 127.0.0.1, port: 104, called_ae: NEWPACS}
            manifest: \(dir)/pull.sqlite
            """
        try job.write(toFile: dir + "/pull.yaml", atomically: true, encoding: .utf8)
        let first = try FerryCLI.run(["plan", dir + "/pull.yaml"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(
            first.stdout.contains("inventory of QRSCP@127.0.0.1:\(qr.peer.port): 40 studies (40 new), 4000 instances"),
            "\(first.stdout)")
        // Each study's two series of 50 are listed; the cap of 5 cuts every IMAGE answer, so
        // each series is marked capped with the 5 instances it listed.
        #expect(
            first.stdout.contains("listed: 40 studies, 80 series, 400 instances (80 series capped by the source)"),
            "\(first.stdout)")
        let again = try FerryCLI.run(["plan", dir + "/pull.yaml"])
        #expect(again.stdout.contains(": 40 studies (0 new), 4000 instances"), "\(again.stdout)")
        // The same job by flags, one day: its twelve studies only are new in another manifest.
        let day = try FerryCLI.run([
            "plan", "--name", "day", "--manifest", dir + "/day.sqlite", "--source-pacs",
            "QRSCP@127.0.0.1:\(qr.peer.port)", "--from", "2015-06-15", "--to", "2015-06-15",
        ])
        #expect(day.stdout.contains(": 12 studies (12 new), 1200 instances"), "\(day.stdout)\(day.stderr)")
        #expect(day.stdout.contains("listed: 12 studies, 24 series"), "\(day.stdout)")

        // The source knows no FERRY to move to: the run stops at the first study, saying so (3).
        let run = try FerryCLI.run(["run", dir + "/pull.yaml", "--no-scan"])
        #expect(
            run.status == 3 && run.stderr.contains("does not know FERRY as a move destination (A801"),
            "\(run.stderr)")
        let bad = try FerryCLI.run(["plan", dir + "/pull.yaml", "--slice", "fortnight"])
        #expect(bad.status == 2 && bad.stderr.contains("slice \"fortnight\" is not a duration"), "\(bad.stderr)")
    }
}

/// The inventory against DCMTK dcmqrscp (fork mode), which answers an IMAGE query only with
/// the study's and series' unique keys and returns no counts and no SOP Class UID: every
/// instance it holds is listed.
@Suite(.scratch)
struct PullPlanAgainstDcmqrscpTests {
    @Test func everyInstanceIsListed() throws {
        let (peer, files) = try SCUAgainstDcmqrscpTests.dcmqrscp()
        defer { peer.stop() }
        var expected: [String: String] = [:]
        for f in files {
            let s = try HeaderScan.summary(path: f)
            if let uid = s.sopInstanceUID { expected[uid] = s.sopClassUID ?? "" }
        }
        let dir = try Corpus.temporaryDirectory("pull-dcmqrscp")
        let out = try FerryCLI.run([
            "plan", "--name", "pull", "--manifest", dir + "/pull.sqlite", "--source-pacs",
            "DCMQR@127.0.0.1:\(peer.port)",
        ])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("\(expected.count) instances (0 series capped"), "\(out.stdout)")
        var rows: [String: String] = [:]
        for (_, instances) in try StudyRetrieverTests.listed(dir + "/pull.sqlite") {
            for i in instances { rows[i.uid] = i.sopClass }
        }
        // dcmqrscp answers no SOP Class UID at IMAGE level (not in its key table): empty then.
        #expect(Set(rows.keys) == Set(expected.keys))
        #expect(rows.allSatisfy { $0.value.isEmpty || $0.value == expected[$0.key] }, "\(rows)")
    }
}

/// `ferry plan --probe` of a pull job: the inventory's instances grouped by SOP class and the
/// syntax the source holds them in (Available Transfer Syntax UID, which `ferry qrscp`
/// answers), and what the destination (DCMTK storescp, uncompressed syntaxes only) would
/// negotiate for each: compressed groups transcoded, uncompressed ones sent as held. A source
/// that does not say the syntax (dcmqrscp) has its groups reported as not said.
@Suite(.scratch)
struct PullDryRunTests {
    @Test func theProbeReportsWhatTheDestinationWouldNegotiate() throws {
        let sources = try Interop.sources("tiny")
        // The compressed files by class and syntax (the archive holds those as sent; dcmsend
        // may send an uncompressed file in another uncompressed syntax).
        var expected: [String: Int] = [:]
        for path in sources.values {
            let s = try HeaderScan.summary(path: path)
            guard TransferSyntax.lookup(s.transferSyntaxUID ?? "")?.isEncapsulated == true else { continue }
            expected["\(s.sopClassUID ?? "")|\(s.transferSyntaxUID ?? "")", default: 0] += 1
        }
        try #require(!expected.isEmpty)
        let qr = try QRSCPProcess(files: sources.values.sorted())
        defer { qr.peer.stop() }
        let destination = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory("dry-run-rx"))
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-dry-run")
        let out = try FerryCLI.run([
            "plan", "--name", "pull", "--manifest", dir + "/pull.sqlite", "--source-pacs",
            "QRSCP@127.0.0.1:\(qr.peer.port)", "--dest", "STORESCP@127.0.0.1:\(destination.port)", "--probe",
            "--format", "json",
        ])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        let report = try JSONDecoder().decode(PlanReport.self, from: Data(out.stdout.utf8))
        var groups: [String: Int] = [:]
        for g in report.groups where TransferSyntax.lookup(g.transferSyntax)?.isEncapsulated == true {
            groups["\(g.sopClass)|\(g.transferSyntax)", default: 0] += g.files
        }
        #expect(groups == expected)
        #expect(report.groups.map(\.files).reduce(0, +) == sources.count)
        for g in report.groups {
            let held = try #require(TransferSyntax.lookup(g.transferSyntax))
            if held.isEncapsulated {
                #expect(g.outcome?.hasPrefix("transcode: \(held.name) -> ") == true, "\(g)")
            } else {
                #expect(g.outcome?.hasPrefix("send ") == true, "\(g)")
            }
        }
        #expect(report.associations.map(\.files).reduce(0, +) == sources.count)
        // A context of compressed syntaxes only is refused by a storescp taking uncompressed ones.
        let compressed = report.associations.flatMap(\.contexts).filter {
            $0.transferSyntaxes.allSatisfy { TransferSyntax.lookup($0)?.isEncapsulated == true }
        }
        #expect(!compressed.isEmpty)
        #expect(compressed.allSatisfy { $0.probe?.hasPrefix("accepted") == false }, "\(compressed)")
    }

    @Test func aSourceThatDoesNotSayTheSyntaxIsReportedSo() throws {
        let (peer, files) = try SCUAgainstDcmqrscpTests.dcmqrscp()
        defer { peer.stop() }
        let dir = try Corpus.temporaryDirectory("pull-dry-run-dcmqrscp")
        let out = try FerryCLI.run([
            "plan", "--name", "pull", "--manifest", dir + "/pull.sqlite", "--source-pacs",
            "DCMQR@127.0.0.1:\(peer.port)", "--format", "json",
        ])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        let report = try JSONDecoder().decode(PlanReport.self, from: Data(out.stdout.utf8))
        #expect(report.groups.map(\.files).reduce(0, +) == files.count, "\(report.groups)")
        #expect(report.groups.allSatisfy { $0.transferSyntaxName == "not said by the source" }, "\(report.groups)")
    }
}

/// A listed study retrieved by C-GET into its staging folder (issue 30, the retrieve's first
/// part): from `ferry qrscp` holding the tiny corpus (compressed syntaxes among them), every
/// listed instance arrives, identical, and nothing is missing or unlisted.
@Suite(.scratch)
struct StudyRetrieverTests {
    /// Each listed study's UID, with its instances' UIDs and SOP classes, from the manifest.
    static func listed(_ manifest: String) throws -> [String: [(uid: String, sopClass: String)]] {
        let m = try Manifest(path: manifest, exclusive: false)
        var out: [String: [(uid: String, sopClass: String)]] = [:]
        for study in try m.studiesToRetrieve(limit: 1000) {
            out[study] = try m.listedInstances(of: study).map { ($0.uid, $0.sopClass) }
        }
        return out
    }

    @Test func everyListedInstanceArrivesIdentical() async throws {
        let sources = try Interop.sources("tiny")
        let qr = try QRSCPProcess(files: sources.values.sorted())
        defer { qr.peer.stop() }
        let dir = try Corpus.temporaryDirectory("pull-get")
        let plan = try FerryCLI.run([
            "plan", "--name", "pull", "--manifest", dir + "/pull.sqlite", "--source-pacs",
            "QRSCP@127.0.0.1:\(qr.peer.port)",
        ])
        #expect(plan.status == 0, "\(plan.stdout)\(plan.stderr)")
        let studies = try Self.listed(dir + "/pull.sqlite")
        #expect(studies.values.map(\.count).reduce(0, +) == sources.count, "\(plan.stdout)")

        var job = Job(name: "pull")
        var pacs = Job.Source.PACS()
        (pacs.calledAE, pacs.port) = ("QRSCP", qr.peer.port)
        job.source.pacs = pacs
        let retriever = StudyRetriever(job: job, logger: Logger(label: "test"))
        var received: [String: String] = [:]
        for (study, instances) in studies.sorted(by: { $0.key < $1.key }) {
            let outcome = try await withTaskExecutorPreference(EventLoopExecutor.shared) {
                try await retriever.get(
                    .study(study), listed: Set(instances.map(\.uid)), sopClasses: instances.map(\.sopClass),
                    staging: dir + "/staging/" + study)
            }
            #expect(outcome.status.code == 0x0000, "\(study): \(outcome.status) \(outcome.counts)")
            #expect(outcome.missing.isEmpty && outcome.unlisted.isEmpty, "\(study): \(outcome.missing)")
            received.merge(outcome.received) { a, _ in a }
        }
        #expect(received.count == sources.count)
        #expect(Retrieved.problems(sources: sources, received: received) == [])
    }
}

/// `ferry run` of a pull job with `retrieve: get` (issue 30, a first end to end): from
/// `ferry qrscp` holding the tiny corpus to DCMTK storescp taking uncompressed syntaxes only,
/// so compressed instances are decoded on the way. Every instance arrives, identical or with
/// the source's decoded pixels; the staging folder is empty afterwards; a second run retrieves
/// and sends nothing.
@Suite(.scratch)
struct PullRunTests {
    @Test func aPullByCGetReachesTheDestination() throws {
        let sources = try Interop.sources("tiny")
        let qr = try QRSCPProcess(files: sources.values.sorted())
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("pull-received")
        let destination = try PeerProcess.dcmtkStorescp(outputDirectory: received)
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-run")
        try PullJob.write(in: dir, source: qr.peer.port, retrieve: "get", destination: destination.port)
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [], "\(run.stderr)")
        #expect(DirectoryWalker().files(under: [dir + "/pull-staging"]).isEmpty, "staged files removed once sent")
        // ferry status shows the source side too.
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID }).count
        let status = try FerryCLI.run(["status", dir + "/pull.yaml"])
        #expect(
            status.stdout.contains("source: \(studies) studies") && status.stdout.contains("retrieved \(studies)")
                && status.stdout.contains("listed: \(sources.count) instances"), "\(status.stdout)")
        let again = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(
            !again.stderr.contains("pull: this batch")
                && again.stderr.contains(
                    "\(sources.count)/\(sources.count) listed instances (0/s), \(sources.count) forwarded (0/s)"),
            "nothing retrieved again: \(again.stderr)")
        #expect(DirectoryWalker().files(under: [received]).count == sources.count, "nothing sent twice")
    }

    /// With `max_staging` below one study's size (and one retrieve at a time), each batch
    /// holds one study: retrieved, sent, removed, then the next.
    @Test func maxStagingBoundsEachBatch() throws {
        let sources = try Interop.sources("tiny")
        let studies = Set(try sources.values.compactMap { try HeaderScan.summary(path: $0).studyInstanceUID })
        try #require(studies.count > 1)
        let qr = try QRSCPProcess(files: sources.values.sorted())
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("staging-received")
        let destination = try PeerProcess.ferryStorescp(outputDirectory: received)
        let port = destination.port
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-staging-limit")
        try PullJob.write(
            in: dir, source: qr.peer.port, retrieve: "get", destination: port,
            sourceLines: ["max_retrieves: 1", "receiver: {max_staging: 1K}"])
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let batches = run.stderr.components(separatedBy: "(1 studies complete)").count - 1
        #expect(batches == studies.count, "one study a batch: \(run.stderr)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
    }
}

/// `ferry verify` of a pull job (by C-GET from one `ferry qrscp` into another): every instance
/// pulled is confirmed by UID at the destination's Q/R SCP; one removed from the destination's
/// index afterwards is reported missing (exit 1).
@Suite(.scratch)
struct PullVerifyTests {
    @Test func verifyConfirmsWhatWasPulled() throws {
        let sources = try Interop.sources("tiny")
        let source = try QRSCPProcess(files: sources.values.sorted())
        defer { source.peer.stop() }
        let destination = try QRSCPProcess(files: [])
        defer { destination.peer.stop() }
        let dir = try Corpus.temporaryDirectory("pull-verify")
        try PullJob.write(
            in: dir, source: source.peer.port, retrieve: "get", destination: destination.peer.port,
            destinationAE: "QRSCP")
        let run = try FerryCLI.run(["run", dir + "/pull.yaml"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let verify = try FerryCLI.run(["verify", dir + "/pull.yaml"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("\(sources.count) verified, 0 missing"), "\(verify.stdout)")
        // One instance leaves the destination's index: the next verification misses it.
        let gone = try #require(sources.keys.sorted().first)
        let index = destination.directory + "/QRSCP/ferry-index.sqlite"
        let removed = try Tools.run(
            PeerProcess.python3,
            [
                "-c",
                "import sqlite3,sys; d=sqlite3.connect(sys.argv[1]); n=d.execute('DELETE FROM instance WHERE uid=?',(sys.argv[2],)).rowcount; d.commit(); print(n)",
                index, gone,
            ])
        try #require(removed.status == 0 && removed.stdout.hasPrefix("1"), "\(removed.stderr)\(removed.stdout)")
        let again = try FerryCLI.run(["verify", dir + "/pull.yaml"])
        #expect(again.status == 1, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("\(sources.count - 1) verified, 1 missing"), "\(again.stdout)")
    }
}

/// A pull killed (kill -9) while it retrieves and while it sends, then run again: every
/// instance reaches the destination, and the staging folder is empty at the end (what a killed
/// run staged and did not send is sent by the next one; a study caught mid-retrieve is
/// retrieved again into an emptied folder).
@Suite(.scratch)
struct PullResumeTests {
    @Test func killedTwiceThenResumed() throws {
        let sources = try Interop.sources("tiny")
        // Slow on both sides: each C-GET pending response waits, each store is answered late.
        let qr = try QRSCPProcess(files: sources.values.sorted(), extra: ["--sleep-between-responses", "0.2"])
        defer { qr.peer.stop() }
        let received = try Corpus.temporaryDirectory("resume-received")
        let port = freePort()
        let destination = try PeerProcess(
            FerryCLI.path, ["storescp", "+xa", "--sleep-after", "0.2", "-od", received, String(port)], port: port)
        defer { destination.stop() }
        let dir = try Corpus.temporaryDirectory("pull-resume")
        try PullJob.write(
            in: dir, source: qr.peer.port, retrieve: "get", destination: port, sourceLines: ["max_retrieves: 1"],
            transfer: "{associations: 1, async_window: 1}")
        let staging = dir + "/pull-staging"
        let kills: [(String, () -> Bool)] = [
            ("while retrieving", { !DirectoryWalker().files(under: [staging]).isEmpty }),
            ("while sending", { !DirectoryWalker().files(under: [received]).isEmpty }),
        ]
        for (when, condition) in kills {
            let run = try PeerProcess(
                FerryCLI.path, ["run", dir + "/pull.yaml", "--quiet"], port: 0, waitForPort: false)
            #expect(waitUntil(timeout: 120) { condition() || !run.isRunning }, "\(when)")
            #expect(run.isRunning, "the run was still going \(when): \(run.log())")
            kill(run.pid, SIGKILL)
            run.stop()
        }
        let last = try FerryCLI.run(["run", dir + "/pull.yaml", "--quiet"])
        #expect(last.status == 0, "\(last.stdout)\(last.stderr)")
        #expect(Retrieved.problems(sources: sources, received: Interop.received(received)) == [])
        #expect(DirectoryWalker().files(under: [staging]).isEmpty, "no orphan in staging")
    }
}
