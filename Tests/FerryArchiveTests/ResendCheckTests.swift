import FerryDICOM
import Foundation
import TestSupport
import Testing

/// No blind re-send after an unknown outcome (issue 16): a receiver stores the second instance
/// and aborts before its response. With `transfer.check_before_resend` Ferry asks by C-FIND,
/// finds it, and does not send it again; without, it sends it twice.
@Suite(.scratch)
struct ResendCheckTests {
    /// One association, so "the second instance" is one file; the archive's log counts stores.
    /// One store at a time: under a window the third instance's data would sit unread when the
    /// archive aborts, its close would then reset the connection, and the reset can discard the
    /// first instance's response before Ferry reads it (that instance's outcome is then unknown
    /// too: right, but not what these tests count).
    static func run(check: Bool) throws -> (archive: QRSCPProcess, files: [String], report: [[String: String]]) {
        let (source, files) = try VerifyTests.plainSource()
        let archive = try QRSCPProcess(files: [], extra: ["--abort-after-storing", "2"])
        let manifest = try Corpus.temporaryDirectory("resend") + "/r.sqlite"
        let job = try Corpus.temporaryDirectory("resend-job") + "/r.yaml"
        try "transfer:\n  check_before_resend: \(check)\n  async_window: 1\n".write(
            toFile: job, atomically: true, encoding: .utf8)
        let r = try FerryCLI.run([
            "run", job, "--manifest", manifest, "--dest", "QRSCP@127.0.0.1:\(archive.peer.port)", "--source", source,
            "--quiet", "--associations", "1",
        ])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let csv = try FerryCLI.run(["report", manifest, "--format", "csv"]).stdout.split(separator: "\n")
        let header = (csv.first ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        let rows = csv.dropFirst().map { line in
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            return Dictionary(zip(header, f), uniquingKeysWith: { a, _ in a })
        }
        return (archive, files, rows)
    }

    @Test func anInstanceFoundAfterAnAbortIsNotSentTwice() throws {
        let (archive, files, report) = try Self.run(check: true)
        defer { archive.peer.stop() }
        try #require(files.count >= 3)
        #expect(archive.peer.logCount("aborting before the C-STORE-RSP") == 1)
        #expect(archive.peer.logCount("Received Store Request") == files.count, "\(archive.peer.log())")
        #expect(archive.peer.logCount("duplicate SOP Instance UID") == 0)
        #expect(report.count == files.count)
        #expect(report.allSatisfy { $0["state"] == "done" }, "\(report)")
        #expect(report.filter { $0["resend_check"] == "found" }.count == 1, "\(report)")
    }

    /// The control: without the check the aborted instance is stored twice (the archive keeps
    /// the first copy and logs the duplicate).
    @Test func withoutTheCheckTheInstanceIsSentTwice() throws {
        let (archive, files, report) = try Self.run(check: false)
        defer { archive.peer.stop() }
        #expect(archive.peer.logCount("Received Store Request") == files.count + 1, "\(archive.peer.log())")
        #expect(archive.peer.logCount("duplicate SOP Instance UID") == 1)
        #expect(report.allSatisfy { $0["state"] == "done" && $0["resend_check"] == "" }, "\(report)")
    }

    /// A run killed during a store leaves its file `sending`: the next run asks the destination's
    /// Q/R SCP before sending it again (here it is absent, so it is sent, and the report says so).
    @Test func aFileInFlightWhenTheRunWasKilledIsCheckedFirst() throws {
        let (source, files) = try VerifyTests.plainSource()
        let archive = try QRSCPProcess(files: [])
        defer { archive.peer.stop() }
        let manifest = try Corpus.temporaryDirectory("resend") + "/r.sqlite"
        let job = try Corpus.temporaryDirectory("resend-job") + "/r.yaml"
        try """
        transfer:
          check_before_resend: true
        destination:
          query: {called_ae: QRSCP, port: \(archive.peer.port)}
        """.write(toFile: job, atomically: true, encoding: .utf8)
        // A receiver that never answers: the first store hangs until the run is killed.
        let port = freePort()
        let receiver = try PeerProcess(
            FerryCLI.path,
            ["storescp", "-v", "--sleep-during", "600", "-od", try Corpus.temporaryDirectory("hung"), String(port)],
            port: port)
        defer { receiver.stop() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FerryCLI.path)
        p.arguments = [
            "run", job, "--manifest", manifest, "--dest", "QRSCP@127.0.0.1:\(port)", "--source", source, "--quiet",
            "--associations", "1",
        ]
        try p.run()
        #expect(receiver.waitForLog("Received Store Request", timeout: 60))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // The next run sends to the archive itself: the file in flight is asked about first.
        let r = try FerryCLI.run([
            "run", job, "--manifest", manifest, "--dest", "QRSCP@127.0.0.1:\(archive.peer.port)", "--source", source,
            "--quiet", "--associations", "1",
        ])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let csv = try FerryCLI.run(["report", manifest, "--format", "csv"]).stdout
        // The file in flight, and the one marked ahead of it if the kill came after its mark.
        let absent = csv.split(separator: "\n").filter { $0.hasSuffix(",absent") }.count
        #expect((1...2).contains(absent), "\(csv)")
        #expect(archive.peer.logCount("Received Store Request") == files.count)
    }
}
