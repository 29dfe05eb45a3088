import ArgumentParser
import FerryDICOM
import FerryMigration
import FerryServices
import Foundation
import Logging

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scan the sources (headers only), update the manifest and print the dry-run report.")

    @OptionGroup var options: JobOptions
    @Flag(help: "Open associations to the destination without sending data and report what it accepts.")
    var probe = false
    @Option(
        help:
            "Only files modified at or after this time (seconds since 1970, or --since=-Nh / --since=-Nd for hours/days ago)."
    )
    var since: String?
    @Option(help: "Report format: table, json, csv or md.")
    var format: ReportFormat = .table

    func run() async throws {
        let logger = ConsoleLogHandler.logger("ferry.plan", level: .warning)
        do {
            let job = try options.resolve()
            try job.validate()
            let manifest = try Manifest(path: job.manifestPath, exclusive: true)
            if job.pulls { return try await inventory(job, manifest, logger: logger) }
            let scan = try await Planner(job: job, manifest: manifest).scan(since: try Since.parse(since))
            for e in scan.unlisted { FileHandleWriter.stderr("plan: E: \(e)\n") }
            FileHandleWriter.stderr(
                "plan: \(scan.seen) files seen, \(scan.added) new, \(scan.changed) changed, \(scan.unchanged) unchanged, \(scan.unreadable) not sendable, \(scan.conflicts) conflicts\n"
            )
            var probes = try Prober.stored(manifest, for: job)
            if probe { probes = try await Prober(job: job, manifest: manifest, logger: logger).probe() }
            let report = try PlanReport.make(job: job, manifest: manifest, probe: probes)
            print(try ReportRenderer.render(report, format: format))
        } catch let e as MigrationError {
            FileHandleWriter.stderr("plan: \(e)\n")
            throw ExitCode(.usage)
        }
    }
}

extension Plan {
    /// A pull job's inventory; the source's own failure (unreachable, a refused query) exits 3.
    static func inventory(
        _ job: Job, _ manifest: Manifest, logger: Logger, command: String
    ) async throws -> PullPlanner.Result {
        do { return try await PullPlanner(job: job, manifest: manifest, logger: logger).inventory() } catch let e
            as MigrationError
        {
            throw e
        } catch {
            FileHandleWriter.stderr("\(command): the PACS source: \(error)\n")
            throw ExitCode(.destinationUnavailable)
        }
    }

    /// A pull job's plan: the source's studies listed and recorded, then the dry run of what
    /// is not received yet (with `--probe`, against the destination).
    func inventory(_ job: Job, _ manifest: Manifest, logger: Logger) async throws {
        let r = try await Self.inventory(job, manifest, logger: logger, command: "plan")
        // The inventory's lines go with the table; beside another form, to stderr.
        let print = { (line: String) in
            if format == .table { Swift.print(line) } else { FileHandleWriter.stderr(line + "\n") }
        }
        let counted = r.summary.uncounted == 0 ? "" : ", \(r.summary.uncounted) without a count"
        let s = r.summary
        print(
            "inventory of \(r.source): \(s.studies) studies (\(r.added) new), \(s.instances) instances by the source's counts\(counted); \(r.outcome.queries) queries"
        )
        print(
            "listed: \(s.listedStudies) studies, \(s.series) series, \(s.listedInstances) instances (\(s.cappedSeries) series capped by the source)"
        )
        for gap in r.outcome.gaps { print("  gap: \(gap)") }
        let pending = try manifest.pendingGroups()
        var probes: [ProbeKey: ProbeRecord] = [:]
        if probe {
            probes = try await Prober(job: job, manifest: manifest, logger: logger).probe(
                PlanReport.standIns(for: pending), store: false)
        }
        let report = PlanReport.make(
            job: job, pending: pending, studies: try manifest.sourceStudyStates(), probe: probes)
        Swift.print(try ReportRenderer.render(report, format: format))
        if !r.outcome.gaps.isEmpty { throw ExitCode(1) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Plan if needed, then send; running it again resumes.",
        discussion:
            "Exit codes: 0 all done, 1 some failed, 2 usage or job error, 3 destination unreachable or paused, 4 its time window closed (schedule.windows or --until; the rest stays planned), 130 interrupted."
    )

    @OptionGroup var options: JobOptions
    @Option(help: "Only files modified at or after this time (seconds since 1970, or -Nh / -Nd).")
    var since: String?
    @Option(help: "Take only the studies whose Study Instance UID hashes to shard I of N (I/N, I from 1).")
    var shard: String?
    @Flag(help: "No progress output.")
    var quiet = false
    @Flag(name: .customLong("json-progress"), help: "Progress as JSON lines on stderr.")
    var jsonProgress = false
    @Flag(name: .customLong("no-scan"), help: "Send what the manifest holds without scanning the sources again.")
    var noScan = false
    @Flag(name: .shortAndLong, help: "Log every file.")
    var verbose = false
    @Flag(help: "After sending, verify against the destination (as ferry verify) and summarise both.")
    var verify = false
    @Option(help: "Stop taking files at this local time (HH:MM or HH:MM:SS; the next day if already past); exit 4.")
    var until: String?
    @Option(help: .hidden)  // test: abort the process when it re-encodes a file of this name
    var faultAbortDecoding: String?

    func run() async throws {
        let logger = ConsoleLogHandler.logger("ferry.run", level: verbose ? .info : .error)
        let (job, manifest) = try await prepare(logger: logger)
        let stop = StopFlag()
        let signals = SignalStop(stop)
        defer { signals.cancel() }
        let outcome =
            job.pulls
            ? try await pull(job, manifest, stop: stop, logger: logger)
            : try await send(job, manifest, stop: stop, logger: logger)
        let counts = try manifest.counts()
        if !quiet {
            FileHandleWriter.stderr(
                "run: \(outcome.rawValue): "
                    + counts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
                    .joined(separator: ", ") + "\n")
        }
        guard outcome == .complete || outcome == .someFailed else { throw ExitCode(outcome.exitStatus) }
        var exit = outcome.exitStatus
        // Storage commitment of what was sent (job: commitment), then verification (--verify).
        let committed = try await commit(job, manifest, logger: logger, exit: &exit)
        guard verify else { throw ExitCode(exit) }
        // The run's summary with the destination's answer: sent, verified, missing, committed.
        do {
            let summary = try await Verifier(job: job, manifest: manifest, logger: logger).run()
            let r = summary.run
            print(
                "run: \(r.sent) sent, \(r.verified) verified, \(r.missing) missing\(committed.map { ", \($0)" } ?? "") (\(r.destination), \(r.queries) queries)"
            )
            for path in summary.missing.prefix(50) { print("  missing: \(path)") }
            throw ExitCode(summary.complete ? exit : .someFailed)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandleWriter.stderr("run: verification: \(error)\n")
            throw ExitCode(.destinationUnavailable)
        }
    }

    /// The job, its manifest (locked), planned again unless --no-scan (a pull job's source
    /// inventoried), restricted to the shard.
    private func prepare(logger: Logger) async throws -> (Job, Manifest) {
        do {
            let job = try options.resolve()
            try job.validate()
            let manifest = try Manifest(path: job.manifestPath, exclusive: true)
            if job.pulls {
                if !noScan {
                    let r = try await Plan.inventory(job, manifest, logger: logger, command: "run")
                    if !quiet {
                        FileHandleWriter.stderr(
                            "plan: \(r.summary.studies) studies at \(r.source) (\(r.added) new), \(r.summary.listedInstances) instances listed\n"
                        )
                    }
                    for gap in r.outcome.gaps { FileHandleWriter.stderr("plan: gap: \(gap)\n") }
                }
                return (job, manifest)
            }
            if !noScan {
                let scan = try await Planner(job: job, manifest: manifest).scan(since: try Since.parse(since))
                for e in scan.unlisted { FileHandleWriter.stderr("plan: E: \(e)\n") }
                if !quiet {
                    FileHandleWriter.stderr(
                        "plan: \(scan.seen) files, \(scan.added) new, \(scan.changed) changed, \(scan.unreadable) not sendable\n"
                    )
                }
            }
            try Shard.restrict(manifest, to: try shard.map(Shard.parse))
            return (job, manifest)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandleWriter.stderr("run: \(error)\n")
            throw ExitCode(.usage)
        }
    }

    /// The sending, window by window: outside its windows a run exits (4) or waits for the next.
    private func send(_ job: Job, _ manifest: Manifest, stop: StopFlag, logger: Logger) async throws -> RunOutcome {
        let untilDate: Date?
        let schedule: Schedule?
        do {
            untilDate = try until.map(Self.nextTime)
            schedule = try job.schedule.map { try Schedule($0.windows) }
        } catch {
            FileHandleWriter.stderr("run: \(error)\n")
            throw ExitCode(.usage)
        }
        var outcome: RunOutcome
        repeat {
            var stopAt = untilDate
            if let schedule {
                if schedule.end(ofWindowOpenAt: Date()) == nil {
                    let next = schedule.nextOpening(after: Date())
                    let when = next.map { "\($0)" } ?? "never"
                    guard job.schedule?.outside == .wait, let next, untilDate.map({ next < $0 }) ?? true else {
                        FileHandleWriter.stderr("run: outside the job's windows; the next opens at \(when)\n")
                        throw ExitCode(.windowClosed)
                    }
                    FileHandleWriter.stderr("run: outside the job's windows; waiting until \(when)\n")
                    while Date() < next && !stop.isSet { try? await Task.sleep(for: .milliseconds(500)) }
                    if stop.isSet { throw ExitCode(.interrupted) }
                }
                if let end = schedule.end(ofWindowOpenAt: Date()) { stopAt = min(stopAt ?? end, end) }
            }
            var faults = FaultInjection()
            faults.abortDecoding = faultAbortDecoding
            let runner = MigrationRunner(
                job: job, manifest: manifest, logger: logger, stop: stop,
                progress: Progress(mode: quiet ? .quiet : jsonProgress ? .json : .auto), stopAt: stopAt,
                faults: faults)
            do { outcome = try await runner.run() } catch {
                FileHandleWriter.stderr("run: \(error)\n")
                throw ExitCode(.usage)
            }
        } while outcome == .windowClosed && untilDate == nil && job.schedule?.outside == .wait
        return outcome
    }

    /// A pull job's run: the listed studies retrieved a batch at a time into staging, each batch
    /// planned as files and sent, its staged files removed once sent.
    private func pull(_ job: Job, _ manifest: Manifest, stop: StopFlag, logger: Logger) async throws -> RunOutcome {
        var outcome = RunOutcome.complete
        var incomplete: [(study: String, missing: [String])] = []
        let end: Date?
        do { end = try until.map(Self.nextTime) } catch {
            FileHandleWriter.stderr("run: \(error)\n")
            throw ExitCode(.usage)
        }
        do {
            let progress = try PullProgress(manifest: manifest)
            try await PullRunner(job: job, manifest: manifest, logger: logger).serving { puller in
                var files = job
                files.source = Job.Source()
                // What an earlier run staged and did not send (killed between a retrieve and
                // its send) goes first; files already planned or sent are not planned again.
                if puller.hasStagedFiles {
                    files.source.paths = [puller.staging]
                    _ = try await Planner(job: files, manifest: manifest).scan()
                    // They came (a request under way at the kill may not have recorded them):
                    // the retrieve that follows does not ask for them again.
                    try manifest.markReceived(stagedUnder: puller.staging)
                    let sent = try await send(files, manifest, stop: stop, logger: logger)
                    try puller.cleanUp()
                    if sent != .complete { outcome = sent }
                    if sent != .complete && sent != .someFailed { return }
                }
                // The listed studies retrieved, `max_retrieves` lanes at once, and sent in
                // batches meanwhile: each batch is what was retrieved while the last one was
                // sent. False when a send ended the run.
                func pullWhatIsListed() async throws -> Bool {
                    let staged = StagedStudies(batchStudies: max(8, job.source.maxRetrieves * 4))
                    let retrieving = Task { await puller.retrieveAll(into: staged, stop: stop) }
                    do {
                        while let batch = try await staged.take() {
                            incomplete += batch.incomplete
                            guard !batch.paths.isEmpty else { continue }  // nothing came to send
                            files.source.paths = Array(Set(batch.paths)).sorted()
                            let scan = try await Planner(job: files, manifest: manifest).scan()
                            if !quiet {
                                let both = try progress.line(manifest: manifest, json: jsonProgress)
                                FileHandleWriter.stderr(
                                    "\(both)\npull: this batch: \(batch.instances) instances retrieved (\(batch.studies) studies complete), \(scan.added + scan.changed) planned\n"
                                )
                            }
                            let sent = try await send(files, manifest, stop: stop, logger: logger)
                            try puller.cleanUp(folders: false)
                            await staged.sent(batch)
                            if sent != .complete { outcome = sent }
                            if sent != .complete && sent != .someFailed {
                                retrieving.cancel()
                                await staged.abandon()
                                await retrieving.value
                                return false
                            }
                        }
                    } catch {
                        retrieving.cancel()
                        await staged.abandon()
                        await retrieving.value
                        throw error
                    }
                    await retrieving.value
                    try puller.cleanUp()
                    if !quiet {
                        FileHandleWriter.stderr(try progress.line(manifest: manifest, json: jsonProgress) + "\n")
                    }
                    return true
                }
                guard try await pullWhatIsListed(), let follow = job.source.follow, let interval = follow.seconds
                else { return }
                // --follow: a pass every interval until stopped or --until.
                var pass = 0
                while !stop.isSet {
                    let next = Date().addingTimeInterval(interval)
                    if let end, next > end { break }
                    while Date() < next, !stop.isSet { try await Task.sleep(for: .milliseconds(100)) }
                    guard !stop.isSet else { break }
                    pass += 1
                    guard let window = job.followPass(days: follow.windowDays ?? 7) else {
                        FileHandleWriter.stderr("follow: the job's Study Dates end before the trailing window\n")
                        break
                    }
                    let r = try await PullPlanner(job: window, manifest: manifest, logger: logger).inventory()
                    try manifest.recordSync(added: r.added, changed: r.changed)
                    if !quiet {
                        FileHandleWriter.stderr("follow: pass \(pass): \(r.added) new studies, \(r.changed) changed\n")
                    }
                    guard try await pullWhatIsListed() else { return }
                }
            }
        } catch let e as MigrationError {
            FileHandleWriter.stderr("run: \(e)\n")
            throw ExitCode(e.code == .invalidJob ? .usage : .destinationUnavailable)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandleWriter.stderr("run: the PACS source: \(error)\n")
            throw ExitCode(.destinationUnavailable)
        }
        for (study, missing) in incomplete {
            print("pull: study \(study): \(missing.count) listed instances never received")
            for uid in missing.prefix(1000) { print("  not received: \(uid)") }
        }
        if !incomplete.isEmpty, outcome == .complete { outcome = .someFailed }
        if stop.isSet, outcome == .complete { outcome = .interrupted }
        return outcome
    }

    /// Storage commitment of what was sent (job: commitment): "N committed", or nil without it.
    private func commit(
        _ job: Job, _ manifest: Manifest, logger: Logger, exit: inout ExitStatus
    ) async throws
        -> String?
    {
        guard job.commitment != nil else { return nil }
        do {
            let c = try await Committer(job: job, manifest: manifest, logger: logger).run()
            print(
                "run: commitment: \(c.requests) requests, \(c.counts.committed) committed, \(c.counts.failed) failed, \(c.counts.outstanding) awaiting a report"
            )
            for f in try manifest.commitmentFailures().prefix(50) {
                print("  not committed: \(f.path): \(f.commitmentReason ?? "")")
            }
            for r in c.refusals { print("  request refused: \(r)") }
            if !c.complete { exit = .someFailed }
            return "\(c.counts.committed) committed"
        } catch {
            FileHandleWriter.stderr("run: storage commitment: \(error)\n")
            throw ExitCode(.destinationUnavailable)
        }
    }
}

extension Run {
    /// The next local time HH:MM[:SS] (today, or tomorrow when already past).
    static func nextTime(_ text: String) throws -> Date {
        let parts = text.split(separator: ":").map { Int($0) }
        guard (2...3).contains(parts.count), let h = parts[0], let m = parts[1], (0...23).contains(h),
            (0...59).contains(m), parts.count == 2 || (parts[2].map { (0...59).contains($0) } ?? false)
        else { throw ValidationError("--until must be HH:MM or HH:MM:SS") }
        let calendar = Calendar.current
        var when = calendar.startOfDay(for: Date()).addingTimeInterval(
            Double(h * 3600 + m * 60 + (parts.count == 3 ? parts[2] ?? 0 : 0)))
        if when <= Date() { when = calendar.date(byAdding: .day, value: 1, to: when) ?? when }
        return when
    }
}

extension Status {
    /// A pull job's source side: its studies by state, what is listed, what never came.
    func printPullStatus(_ manifest: Manifest) throws {
        let states = try manifest.sourceStudyStates()
        guard !states.isEmpty else { return }
        let s = try manifest.inventorySummary()
        print(
            "source: \(s.studies) studies (\(s.instances) instances by the source's counts): "
                + SourceStudyState.allCases.map { "\($0.rawValue) \(states[$0] ?? 0)" }.joined(separator: ", "))
        print("  listed: \(s.listedInstances) instances in \(s.series) series (\(s.cappedSeries) capped by the source)")
        print("  received: \(s.receivedInstances) of the listed instances (move-direct: listed by the destination)")
        if let sync = try manifest.lastSync() {
            print(
                "  follow: \(sync.passes) passes, the last at \(sync.at): \(sync.added) new studies, \(sync.changed) changed"
            )
        }
        let incomplete = try manifest.retrievedIncomplete()
        if !incomplete.isEmpty {
            print(
                "  \(incomplete.count) studies retrieved with listed instances missing (\(incomplete.map(\.missing).reduce(0, +)) instances)"
            )
            for (study, uid) in try manifest.missingInstances(limit: 50) {
                print("    not received: \(uid) (study \(study))")
            }
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts by state, throughput of the runs, what failed and why.")
    @OptionGroup var options: JobOptions

    func run() throws {
        let job = try options.resolve()
        guard FileManager.default.fileExists(atPath: job.manifestPath) else {
            FileHandleWriter.stderr("status: no manifest at \(job.manifestPath)\n")
            throw ExitCode(.usage)
        }
        let manifest: Manifest
        do { manifest = try Manifest(path: job.manifestPath, exclusive: false, readOnly: true) } catch let e
            as MigrationError
        {
            FileHandleWriter.stderr("status: \(e)\n")
            throw ExitCode(.usage)
        }
        let counts = try manifest.counts()
        print("manifest \(job.manifestPath)")
        for s in InstanceState.allCases {
            print("  \(s.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(counts[s] ?? 0)")
        }
        try printPullStatus(manifest)
        for r in try manifest.runs() {
            let seconds = (r.endedAt ?? r.startedAt) - r.startedAt
            print(
                "run \(r.id ?? 0): \(r.outcome?.rawValue ?? "did not finish (killed?)"), \(r.done) done, \(r.failed) failed, \(String(format: "%.1f", seconds)) s"
            )
        }
        if let (v, findings) = try manifest.lastVerification() {
            print(
                "verify \(v.id ?? 0) against \(v.destination): \(v.outcome?.rawValue ?? "did not finish"), \(v.verified) of \(v.sent) sent verified, \(v.missing) missing, \(findings.filter { $0.kind == .unexpected }.count) unexpected, \(findings.filter { $0.kind == .count }.count) count differences"
            )
        }
        if let setting = job.schedule, let schedule = try? Schedule(setting.windows) {
            let now = Date()
            let state =
                schedule.end(ofWindowOpenAt: now).map { "open now, until \($0)" }
                ?? "closed; the next window opens at \(schedule.nextOpening(after: now).map { "\($0)" } ?? "never")"
            print("schedule: \(setting.windows.joined(separator: ", ")) (local time): \(state)")
        }
        if let rate = job.transfer.maxRate { print("max rate: \(rate) MB/s across the job's associations") }
        if let cap = job.transfer.maxAssociations { print("max associations: \(cap) open to the destination at once") }
        let transactions = try manifest.commitmentTransactions()
        if !transactions.isEmpty {
            let c = try manifest.commitmentCounts()
            let answered = transactions.filter { $0.state == .answered }.count
            print(
                "commitment: \(c.committed) committed, \(c.failed) failed, \(c.outstanding) awaiting a report (\(transactions.count) requests, \(answered) answered)"
            )
            for f in try manifest.commitmentFailures().prefix(50) {
                print("  not committed: \(f.path): \(f.commitmentReason ?? "")")
            }
            for t in transactions where t.state == .refused { print("  request \(t.uid) \(t.detail ?? "refused")") }
        }
        let failedCount = (counts[.failed] ?? 0) + (counts[.conflict] ?? 0)
        if failedCount > 0 {
            print("failed or in conflict (\(failedCount)):")
            for f in try manifest.instances(in: [.failed, .conflict], limit: 50) {
                print("  \(f.state.rawValue): \(f.path): \(f.statusName.map { "\($0): " } ?? "")\(f.error ?? "")")
            }
            if failedCount > 50 { print("  ... \(failedCount - 50) more (ferry report)") }
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-instance and per-group report of a job (also of a run that crashed).")
    @OptionGroup var options: JobOptions
    @Option(help: "table, json, csv or md")
    var format: ReportFormat = .table

    func run() throws {
        let job = try options.resolve()
        guard FileManager.default.fileExists(atPath: job.manifestPath) else {
            FileHandleWriter.stderr("report: no manifest at \(job.manifestPath)\n")
            throw ExitCode(.usage)
        }
        let manifest: Manifest
        do { manifest = try Manifest(path: job.manifestPath, exclusive: false, readOnly: true) } catch let e
            as MigrationError
        {
            FileHandleWriter.stderr("report: \(e)\n")
            throw ExitCode(.usage)
        }
        let report = try RunReport.make(manifest: manifest)
        try ReportRenderer.write(report, instances: manifest, format: format) { print($0, terminator: "") }
    }
}

extension ReportFormat: ExpressibleByArgument {}
extension ConflictRule: ExpressibleByArgument {}
extension ProposalOptions.Preference: ExpressibleByArgument {}
extension StudyAffinity: ExpressibleByArgument {}
extension SendOrder: ExpressibleByArgument {}

/// `--since`: seconds since 1970, or relative (-12h, -2d).
enum Since {
    static func parse(_ s: String?) throws -> Double? {
        guard let s else { return nil }
        if let v = Double(s) { return v }
        if s.hasPrefix("-"), let unit = s.last, let n = Double(s.dropFirst().dropLast()) {
            let seconds = unit == "h" ? n * 3600 : unit == "d" ? n * 86400 : unit == "m" ? n * 60 : -1
            if seconds >= 0 { return Date().timeIntervalSince1970 - seconds }
        }
        throw ValidationError("--since: \(s) is neither seconds since 1970 nor -Nh/-Nd")
    }
}
