import Foundation
import Glibc
import TestSupport
import Testing

/// `ferry storescu`'s DCMTK-style command line: rightmost wins, @command files, errors,
/// help with the exit codes, and secrets kept out of logs and process arguments.
@Suite(.serialized, .scratch)
struct CommandLineTests {
    /// The first proposed transfer syntax in the debug dump of the A-ASSOCIATE-RQ.
    func firstProposedSyntax(_ options: [String]) throws -> String {
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: try Corpus.temporaryDirectory())
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let out = try FerryCLI.run(["storescu", "-d", "-R"] + options + ["127.0.0.1", String(peer.port), file])
        #expect(out.status == 0, "\(out.stderr)")
        let lines = out.stderr.split(separator: "\n")
        let i = try #require(lines.firstIndex { $0.contains("Proposed Transfer Syntax(es)") })
        return String(lines[i + 1])
    }

    @Test func rightmostOfExclusiveOptionsWins() throws {
        #expect(try firstProposedSyntax(["-xi", "-xe"]).contains("1.2.840.10008.1.2.1)"))
        #expect(try firstProposedSyntax(["-xe", "-xi"]).contains("Implicit VR Little Endian"))
        #expect(try firstProposedSyntax(["-xb", "-x="]).contains("Explicit VR Little Endian"))
    }

    @Test func commandFileIsExpanded() throws {
        let dir = try Corpus.temporaryDirectory()
        try "-aet  FERRYCMD\n  -xi".write(toFile: dir + "/opts.txt", atomically: false, encoding: .utf8)
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: dir)
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let out = try FerryCLI.run(["storescu", "-d", "@" + dir + "/opts.txt", "127.0.0.1", String(peer.port), file])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stderr.contains("Calling Application Name: FERRYCMD"))
        #expect(out.stderr.contains("Implicit VR Little Endian"))
    }

    @Test func syntaxErrorsExitWithOne() throws {
        #expect(try FerryCLI.run(["storescu", "--no-such-option", "localhost", "104", "x.dcm"]).status == 1)
        #expect(try FerryCLI.run(["storescu", "localhost"]).status == 1)
        #expect(
            try FerryCLI.run(["storescu", "-pdu", "100", "localhost", "104", "x.dcm"]).status == 1,
            "value out of DCMTK's range")
        let help = try FerryCLI.run(["storescu", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("+sd    --scan-directories") && help.stdout.contains("exit codes"))
        #expect(try FerryCLI.run(["storescu", "127.0.0.1", "104", "/nonexistent.dcm"]).status == 21)
    }

    /// --arguments prints the expanded command line with the values of -pwd and +pw masked,
    /// whether given directly or in a command file.
    @Test func argumentsAreEchoedWithoutTheirSecrets() throws {
        let dir = try Corpus.temporaryDirectory()
        try "-pwd in-file-s3cret".write(toFile: dir + "/secret.txt", atomically: false, encoding: .utf8)
        for tool in ["echo", "storescu"] {
            let out = try FerryCLI.run(
                [tool, "--arguments", "-usr", "alice", "-pwd", "hunter2-secret", "@" + dir + "/secret.txt", "-ta", "1"]
                    + ["127.0.0.1", String(freePort())] + (tool == "storescu" ? ["/nonexistent.dcm"] : []))
            #expect(out.stdout.contains("expanded command line arguments:"), "\(tool): \(out.stdout)")
            #expect(out.stdout.contains("-usr alice -pwd **** -pwd ****"), "\(tool): \(out.stdout)")
            #expect(!(out.stdout + out.stderr).contains("s3cret") && !(out.stdout + out.stderr).contains("hunter2"))
        }
    }

    /// A user identity field longer than its item can hold (16-bit length) is refused before
    /// any connection, not truncated into a malformed A-ASSOCIATE-RQ.
    @Test func anOversizedUserIdentityTokenIsRefused() throws {
        let dir = try Corpus.temporaryDirectory()
        let token = dir + "/token.jwt"
        try String(repeating: "A", count: 70_000).write(toFile: token, atomically: false, encoding: .utf8)
        let out = try FerryCLI.run(["echo", "--jwt", token, "127.0.0.1", String(freePort())])
        #expect(out.status == 1)
        #expect(out.stderr.contains("70000 bytes") && out.stderr.contains("65535"), "\(out.stderr)")
        let user = try FerryCLI.run(
            ["echo", "-usr", String(repeating: "u", count: 70_000), "127.0.0.1", String(freePort())])
        #expect(user.status == 1 && user.stderr.contains("65535"), "\(user.stderr)")
    }

    /// A passcode given with -pwd reaches the peer (user identity negotiation) but not the
    /// debug log, and is gone from /proc/PID/cmdline while the transfer runs.
    @Test func passwordScrubbedFromArgumentsAndLogs() throws {
        let dir = try Corpus.temporaryDirectory()
        let peer = try PeerProcess.dcmtkStorescp(outputDirectory: dir, ["-d", "--sleep-after", "2"])
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FerryCLI.path)
        process.arguments = [
            "storescu", "-d", "-usr", "alice", "-pwd", "hunter2-secret", "-rsp", "127.0.0.1", String(peer.port), file,
        ]
        let errPipe = Pipe()
        process.standardError = errPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Read the running process's arguments until the password is gone from them (or it exits).
        var cmdline = ""
        _ = waitUntil(timeout: 60) {
            if let data = FileManager.default.contents(atPath: "/proc/\(process.processIdentifier)/cmdline"),
                !data.isEmpty
            {
                cmdline = String(decoding: data, as: UTF8.self)
                if cmdline.contains("alice") && !cmdline.contains("hunter2") { return true }
            }
            return !process.isRunning
        }
        let stderr = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(cmdline.contains("alice"), "read the arguments of the running process: \(cmdline)")
        #expect(!cmdline.contains("hunter2"), "the password is scrubbed from the arguments")
        #expect(!stderr.contains("hunter2"))
        #expect(stderr.contains("passcode <redacted>"), "\(stderr)")
        #expect(process.terminationStatus == 0, "\(stderr)")
        // The peer did receive the identity.
        #expect(peer.log().contains("alice"), "\(peer.log().suffix(2000))")
    }
}
