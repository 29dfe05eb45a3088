import ArgumentParser
import FerryDICOM
import FerryMigration
import FerryServices
import Foundation
import Logging

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask the destination (C-FIND) what it holds of the instances sent, and record it in the manifest.",
        discussion:
            "Exit codes: 0 every sent instance verified, 1 some missing or counts differ, 2 usage or job error, 3 destination unreachable or refusing the queries."
    )

    @OptionGroup var options: JobOptions
    @Option(
        name: .customLong("query-dest"),
        help: "The destination's Q/R SCP as CALLED_AE@HOST:PORT, when not its storage SCP (job: destination.query).")
    var queryDest: String?
    @Flag(help: "Plan the missing instances again, so the next ferry run sends them.")
    var resend = false
    @Flag(help: "No progress output.")
    var quiet = false

    func run() async throws {
        let logger = ConsoleLogHandler.logger("ferry.verify", level: .error)
        let job: Job
        let manifest: Manifest
        do {
            job = try options.resolve(queryDestination: queryDest)
            manifest = try Manifest(path: job.manifestPath, exclusive: true)
        } catch {
            FileHandleWriter.stderr("verify: \(error)\n")
            throw ExitCode(.usage)
        }
        let verifier = Verifier(job: job, manifest: manifest, logger: logger)
        let summary: Verifier.Summary
        do {
            let quiet = self.quiet
            summary = try await verifier.run { done, total in
                if !quiet { FileHandleWriter.stderr("\rverify: \(done)/\(total) instances") }
            }
            if !quiet { FileHandleWriter.stderr("\n") }
        } catch let e as MigrationError {
            FileHandleWriter.stderr("verify: \(e)\n")
            throw ExitCode(.usage)
        } catch {
            let q = verifier.job.queryAddress
            FileHandleWriter.stderr("verify: \(q.calledAE)@\(q.host):\(q.port): \(error)\n")
            throw ExitCode(.destinationUnavailable)
        }
        let r = summary.run
        let counts = summary.findings.filter { $0.kind == .count }.count
        let unexpected = summary.findings.filter { $0.kind == .unexpected }.count
        print(
            "verify: \(r.sent) sent, \(r.verified) verified, \(r.missing) missing, \(unexpected) unexpected, \(counts) count differences (\(r.queries) queries to \(r.destination))"
        )
        for path in summary.missing.prefix(50) { print("  missing: \(path)") }
        if r.missing > 50 { print("  ... \(r.missing - 50) more (ferry report)") }
        for f in summary.findings.prefix(50) {
            print(
                "  \(f.kind): \([f.studyInstanceUID, f.seriesInstanceUID, f.sopInstanceUID].compactMap { $0 }.joined(separator: " / ").escapedForLog()): \(f.detail.escapedForLog())"
            )
        }
        if resend, r.missing > 0 {
            if job.moves {
                let n = try await manifest.relistMissingMoved()
                print("verify: \(n) missing instances listed again; `ferry run` moves them again")
            } else {
                let n = try await manifest.replanMissing()
                print("verify: \(n) missing instances planned again; `ferry run` sends them")
            }
        }
        throw ExitCode(summary.complete ? .success : .someFailed)
    }
}
