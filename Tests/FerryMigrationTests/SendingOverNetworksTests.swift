import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

/// The Asynchronous Operations Window of `ferry run` (issue 17): proposed by default (16),
/// used where the destination grants it; the checkpoint protocol holds with a window in flight.
/// (PipelineTests.corpusToDCMTK sends with the default window to DCMTK storescp, which grants
/// none: one store at a time.)
@Suite(.scratch)
struct AsyncWindowTests {
    @Test func aDestinationGrantingTheWindowStoresEveryInstanceOnce() throws {
        let roots = try Interop.corpusRoots("small")
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/w.sqlite"
        _ = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: roots, ["--quiet"])
        #expect(receiver.logCount("asynchronous operations window 16 invoked/1 performed") >= 1, "\(receiver.log())")
        let done = try Manifest(path: manifest, exclusive: false).instances(in: [.done, .doneWarning])
        #expect(done.count > 100)
        #expect(receiver.logCount("Received Store Request") == done.count, "each instance once")
        let stored = Dictionary(done.compactMap { r in r.sopInstanceUID.map { ($0, r.path) } }) { a, _ in a }
        #expect(Interop.compare(sent: stored, received: Interop.received(out)).isEmpty)
    }

    /// Killed with the window's files marked `sending`: the next run sends them again and
    /// nothing is lost.
    @Test func killedWithAWindowInFlightLosesNothing() throws {
        let roots = try Interop.corpusRoots("small")
        let sent = try Interop.sources("small")
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out, ["--sleep-after", "0.2"])
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/w.sqlite"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FerryCLI.path)
        p.arguments =
            [
                "run", "--manifest", manifest, "--dest", "ANY-SCP@127.0.0.1:\(receiver.port)", "--name", "t", "--quiet",
                "--associations", "1",
            ] + roots.flatMap { ["--source", $0] }
        try p.run()
        #expect(receiver.waitForLog("I: Stored ", count: 3, timeout: 60))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let inFlight = try Manifest(path: manifest, exclusive: false).counts()[.sending] ?? 0
        // One association without a window leaves at most 3 (one in flight, two marked).
        #expect(inFlight > 3, "the window's files were marked sending: \(inFlight)")
        _ = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: roots, ["--quiet"])
        let counts = try Manifest(path: manifest, exclusive: false).counts()
        #expect((counts[.sending] ?? 0) + (counts[.planned] ?? 0) == 0, "\(counts)")
        let done = try Manifest(path: manifest, exclusive: false).instances(in: [.done, .doneWarning])
        let stored = Dictionary(done.compactMap { r in r.sopInstanceUID.map { ($0, r.path) } }) { a, _ in a }
        #expect(stored.count == sent.count, "nothing lost")
        #expect(Interop.compare(sent: stored, received: Interop.received(out)).isEmpty)
    }
}

/// `transfer.study_affinity` (issue 17): one study on one association by default; `spread`
/// sends pieces of it over the pool's associations.
@Suite(.scratch)
struct StudyAffinityTests {
    static func associations(_ affinity: String) throws -> (associations: Int, stored: Int, sent: Int) {
        let roots = try Interop.corpusRoots("ct-series", count: 300)
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/a.sqlite"
        let r = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: roots,
            ["--quiet", "--associations", "4", "--study-affinity", affinity])
        #expect(r.status == 0, "\(r.stderr)")
        return (receiver.logCount("Association Received"), Interop.received(out).count, Pipeline.instances(roots).count)
    }

    @Test func aStudyStaysOnOneAssociationByDefault() throws {
        let r = try Self.associations("one-association")
        #expect(r.associations == 1)
        #expect(r.stored == r.sent)
    }

    @Test func spreadSendsOneStudyOverThePool() throws {
        let r = try Self.associations("spread")
        #expect(r.associations == 4, "\(r.associations) associations")
        #expect(r.stored == r.sent)
    }

    /// A destination that takes two associations at once rejects a pool of four; under
    /// `--max-associations 2` the same job never opens a third.
    @Test func maxAssociationsKeepsThePoolUnderTheDestinationsLimit() throws {
        let roots = try Interop.corpusRoots("ct-series", count: 300)
        func run(_ extra: [String]) throws -> (rejected: Int, accepted: Int, stored: Int) {
            let out = try Corpus.temporaryDirectory("rx")
            let receiver = try Pipeline.ferryReceiver(out, ["--max-associations", "2"])
            defer { receiver.stop() }
            let manifest = try Corpus.temporaryDirectory("m") + "/cap.sqlite"
            _ = try Pipeline.run(
                "run", manifest: manifest, port: receiver.port, sources: roots,
                ["--quiet", "--associations", "4", "--study-affinity", "spread"] + extra)
            return (
                receiver.logCount("Association Rejected"), receiver.logCount("Association Received"),
                Interop.received(out).count
            )
        }
        let uncapped = try run([])
        #expect(uncapped.rejected > 0, "the destination's limit is what this test relies on")
        let capped = try run(["--max-associations", "2"])
        #expect(capped.rejected == 0)
        #expect(capped.accepted == 2)
        #expect(capped.stored == Pipeline.instances(roots).count)
    }
}

/// `transfer.max_rate` (issue 17): the job's associations together send at most that rate,
/// paced; measured at the receiver from its files' times.
@Suite(.scratch)
struct RateCapTests {
    @Test func aRateCapHoldsWithinTenPercent() throws {
        let roots = try Interop.corpusRoots("ct-series", count: 300)
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/r.sqlite"
        let total = Pipeline.instances(roots).values.reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0)
        }
        // About four seconds of sending at the cap, over 2 associations.
        let rate = Double(total) / 4e6
        let r = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: roots,
            [
                "--quiet", "--associations", "2", "--study-affinity", "spread", "--max-rate",
                String(format: "%.3f", rate),
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).map { out + "/" + $0 }
        let times = try files.map {
            try #require(FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date)
        }
        let sizes = files.map { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int) ?? 0 }
        let first = try #require(times.min()), last = try #require(times.max())
        // The bytes after the first file arrived, over the time they took.
        let firstSize = sizes[times.firstIndex(of: first) ?? 0]
        let measured = Double(sizes.reduce(0, +) - firstSize) / last.timeIntervalSince(first) / 1e6
        #expect(abs(measured - rate) / rate <= 0.10, "measured \(measured) MB/s for a cap of \(rate) MB/s")
    }
}

/// Time windows for nightly sends (issue 17): `schedule.windows` read and evaluated in local
/// time; a run that reaches the end of its window (here `--until`) stops cleanly and the next
/// run goes on.
@Suite(.scratch)
struct ScheduleTests {
    static var utc: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC") ?? c.timeZone
        return c
    }
    /// 2026-12-02 is a Wednesday.
    static func at(_ day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
        utc.date(from: DateComponents(year: 2026, month: 12, day: day, hour: hour, minute: minute)) ?? Date()
    }

    @Test func windowsOpenCloseAndJoin() throws {
        let s = try Schedule(["Mon-Fri 19:00-06:30", "Sat-Sun"])
        let c = Self.utc
        #expect(s.end(ofWindowOpenAt: Self.at(2, 20), calendar: c) == Self.at(3, 6, 30))
        #expect(s.end(ofWindowOpenAt: Self.at(3, 2), calendar: c) == Self.at(3, 6, 30), "after midnight")
        #expect(s.end(ofWindowOpenAt: Self.at(3, 12), calendar: c) == nil)
        #expect(s.nextOpening(after: Self.at(3, 12), calendar: c) == Self.at(3, 19))
        // Friday night runs into the weekend: one window until Monday 00:00.
        #expect(s.end(ofWindowOpenAt: Self.at(4, 22), calendar: c) == Self.at(7, 0))
        #expect(s.end(ofWindowOpenAt: Self.at(6, 10), calendar: c) == Self.at(7, 0))
        #expect(s.nextOpening(after: Self.at(7, 8), calendar: c) == Self.at(7, 19))
    }

    @Test(arguments: ["Funday", "Mon 25:00-26:00", "Mon-Fri 19:00", "Mon 7-9", ""])
    func badWindowsAreRefused(_ entry: String) {
        #expect(throws: MigrationError.self) { try Schedule([entry]) }
    }

    @Test func aRunStopsAtItsWindowsEndAndTheNextRunGoesOn() throws {
        let roots = try Interop.corpusRoots("ct-series", count: 300)
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out, ["--sleep-after", "0.05"])
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/s.sqlite"
        let format = DateFormatter()
        format.dateFormat = "HH:mm:ss"
        let until = format.string(from: Date().addingTimeInterval(3))
        let first = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: roots, ["--quiet", "--until", until])
        #expect(first.status == 4, "\(first.stderr)")
        var counts = try Manifest(path: manifest, exclusive: false).counts()
        #expect((counts[.done] ?? 0) > 0 && (counts[.planned] ?? 0) > 0, "stopped midway: \(counts)")
        #expect((counts[.sending] ?? 0) == 0, "nothing left in flight")
        let second = try Pipeline.run("run", manifest: manifest, port: receiver.port, sources: roots, ["--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        counts = try Manifest(path: manifest, exclusive: false).counts()
        #expect(counts[.done] == Pipeline.instances(roots).count, "\(counts)")
        #expect(Interop.received(out).count == Pipeline.instances(roots).count)
    }
}

/// `transfer.order` and `first_patients` (issue 17): which study goes first.
@Suite(.scratch)
struct SendOrderTests {
    /// The Study Date and Patient ID of the first instance the receiver stored.
    static func firstStored(
        _ extra: [String]
    ) throws -> (
        date: String?, patient: String?, accession: String?, dates: [String]
    ) {
        let roots = try Interop.corpusRoots("small")
        let sources = Pipeline.instances(roots)
        let out = try Corpus.temporaryDirectory("rx")
        let receiver = try Pipeline.ferryReceiver(out)
        defer { receiver.stop() }
        let manifest = try Corpus.temporaryDirectory("m") + "/o.sqlite"
        _ = try Pipeline.run(
            "run", manifest: manifest, port: receiver.port, sources: roots, ["--quiet", "--associations", "1"] + extra)
        let line = try #require(receiver.log().split(separator: "\n").first { $0.contains("I: Stored ") })
        let uid = String(line.split(separator: "/").last?.split(separator: ".", maxSplits: 1).last ?? "")
        let first = try HeaderScan.summary(path: try #require(sources[uid], "\(line)"))
        let dates = sources.values.compactMap { try? HeaderScan.summary(path: $0).studyDate }
        return (first.studyDate, first.patientID, first.accessionNumber, dates)
    }

    @Test func newestFirstSendsTheMostRecentStudyFirst() throws {
        let r = try Self.firstStored(["--order", "newest-first"])
        #expect(Set(r.dates).count > 1, "the corpus has several study dates")
        #expect(r.date == r.dates.max())
    }

    @Test func oldestFirstSendsTheEarliestStudyFirst() throws {
        let r = try Self.firstStored(["--order", "oldest-first"])
        #expect(r.date == r.dates.min())
    }

    @Test func aPriorityAccessionNumberGoesFirst() throws {
        let r = try Self.firstStored(["--order", "newest-first", "--first-accession", "ACC0000009"])
        #expect(r.accession == "ACC0000009")
    }

    @Test func aPriorityPatientGoesFirst() throws {
        let r = try Self.firstStored(["--order", "newest-first", "--first-patient", "PID000004"])
        #expect(r.patient == "PID000004")
    }
}
