import FerryDICOM
import Foundation
import TestSupport
import Testing

/// `ferry storescp`'s limits (issue 14): associations at once (in all, per host), bytes per
/// instance, time per store. Each is answered as the standard says and none stalls the rest.
@Suite(.scratch)
struct ReceiverLimitTests {
    /// A raw peer: `hold` associates (Verification) and keeps the association until killed;
    /// `trickle` associates (Secondary Capture), sends a C-STORE-RQ and then its data set in
    /// 100-byte fragments every 0.2 s, and prints how it ended.
    static let script = #"""
        import socket, struct, sys, time
        host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        def item(t, b): return bytes([t, 0]) + struct.pack(">H", len(b)) + b
        sop = b"1.2.840.10008.1.1" if mode == "hold" else b"1.2.840.10008.5.1.4.1.1.7"
        pc = item(0x20, bytes([1, 0, 0, 0]) + item(0x30, sop) + item(0x40, b"1.2.840.10008.1.2"))
        ui = item(0x50, item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4"))
        body = struct.pack(">HH", 1, 0) + b"STORESCP".ljust(16) + b"RAW".ljust(16) + bytes(32) + item(0x10, b"1.2.840.10008.3.1.1.1") + pc + ui
        s = socket.create_connection((host, port))
        s.sendall(bytes([1, 0]) + struct.pack(">I", len(body)) + body)
        answer = s.recv(6)
        print("answer", answer[:1].hex(), flush=True)
        if answer[:1] != b"\x02": sys.exit(0)
        s.recv(65536)
        if mode == "hold":
            time.sleep(120)
        def el(g, e, v):
            if len(v) % 2: v += b"\0"
            return struct.pack("<HHI", g, e, len(v)) + v
        cmd = el(0, 2, sop) + el(0, 0x100, struct.pack("<H", 1)) + el(0, 0x110, struct.pack("<H", 1)) + \
              el(0, 0x700, struct.pack("<H", 0)) + el(0, 0x800, struct.pack("<H", 0)) + el(0, 0x1000, b"1.2.3.4.5")
        cmd = el(0, 0, struct.pack("<I", len(cmd))) + cmd
        def pdv(data, flags): 
            v = struct.pack(">I", len(data) + 2) + bytes([1, flags]) + data
            s.sendall(bytes([4, 0]) + struct.pack(">I", len(v)) + v)
        pdv(cmd, 3)
        try:
            for i in range(100):
                pdv(bytes(100), 0)
                time.sleep(0.2)
            print("sent everything", flush=True)
        except OSError:
            pass
        s.settimeout(5)
        try:
            r = s.recv(6)
            print("ended", r[:1].hex() if r else "closed", flush=True)
        except OSError as e:
            print("ended", type(e).__name__, flush=True)
        """#

    static func peer(_ host: String, _ port: Int, _ mode: String) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: PeerProcess.python3)
        p.arguments = ["-c", script, host, String(port), mode]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        return (p, out)
    }

    static func echo(_ host: String, _ port: Int) throws -> Tools.Output {
        try FerryCLI.run(["echo", "-aec", "STORESCP", host, String(port)])
    }

    @Test func associationsOverTheLimitAreRejectedTransient() throws {
        let scp = try PeerProcess.ferryStorescp(
            outputDirectory: try Corpus.temporaryDirectory(), ["--max-associations", "1"])
        defer { scp.stop() }
        let (holder, _) = try Self.peer("127.0.0.1", scp.port, "hold")
        defer { kill(holder.processIdentifier, SIGKILL) }
        #expect(scp.waitForLog("Association Received"))
        let refused = try Self.echo("127.0.0.1", scp.port)
        #expect(refused.status != 0 && refused.stderr.contains("Local Limit Exceeded"), "\(refused.stderr)")
        #expect(scp.log().contains("--max-associations 1"))
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        // The count is given back when the holder's association ends.
        #expect(waitUntil(timeout: 60) { (try? Self.echo("127.0.0.1", scp.port))?.status == 0 })
    }

    @Test func associationsPerHostAreLimitedPerHost() throws {
        let scp = try PeerProcess.ferryStorescp(
            outputDirectory: try Corpus.temporaryDirectory(), ["--bind", "::", "--max-associations-per-host", "1"])
        defer { scp.stop() }
        let (holder, _) = try Self.peer("127.0.0.1", scp.port, "hold")
        defer { kill(holder.processIdentifier, SIGKILL) }
        #expect(scp.waitForLog("Association Received"))
        let sameHost = try Self.echo("127.0.0.1", scp.port)
        #expect(sameHost.status != 0 && sameHost.stderr.contains("Local Limit Exceeded"), "\(sameHost.stderr)")
        #expect(try Self.echo("::1", scp.port).status == 0, "another host is served")
    }

    @Test func anInstanceOverTheSizeLimitIsRefusedOutOfResources() throws {
        let dir = try Corpus.temporaryDirectory()
        let scp = try PeerProcess.ferryStorescp(outputDirectory: dir, ["--max-instance-size", "1K"])
        defer { scp.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let out = try FerryCLI.run(["storescu", "127.0.0.1", String(scp.port), file])
        #expect(out.status == 0xA7, "DCMTK's exit code for a failure status: status >> 8 (\(out.stderr))")
        #expect(out.stderr.contains("0xA700: Refused: Out of resources"), "\(out.stderr)")
        #expect(scp.log().contains("--max-instance-size"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "nothing stored, no temporary file")
    }

    /// The peer sends a fragment every 0.2 s, well inside the 30 s DIMSE timeout: only the
    /// whole-store limit (1 s) ends it.
    @Test func aStoreTricklingPastItsTimeLimitIsAborted() throws {
        let dir = try Corpus.temporaryDirectory()
        let scp = try PeerProcess.ferryStorescp(outputDirectory: dir, ["--max-store-time", "1", "-td", "30"])
        defer { scp.stop() }
        let (trickler, out) = try Self.peer("127.0.0.1", scp.port, "trickle")
        defer { kill(trickler.processIdentifier, SIGKILL) }
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        trickler.waitUntilExit()
        #expect(printed.contains("answer 02"), "\(printed)")
        #expect(!printed.contains("sent everything"), "cut off before the 20 s of fragments: \(printed)")
        #expect(printed.contains("ended 07") || printed.contains("ended closed"), "A-ABORT: \(printed)")
        #expect(scp.log().contains("--max-store-time"), "\(scp.log())")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "the partial file is removed")
    }

    /// Whether the temporary folder's file system makes unnamed files (O_TMPFILE; not NFS).
    static let unnamedFilesWork: Bool = {
        let fd = open(NSTemporaryDirectory(), 0o20_000_000 | O_DIRECTORY | O_WRONLY, 0o600)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }()

    /// kill -9 in the middle of a store: the instance being received is an unnamed file
    /// (O_TMPFILE) until it is whole, so the output directory holds nothing afterwards, not
    /// even a temporary file.
    @Test(.enabled(if: unnamedFilesWork, "O_TMPFILE in the temporary folder's file system"))
    func aReceiverKilledMidStoreLeavesNothingBehind() throws {
        let dir = URL(fileURLWithPath: try Corpus.temporaryDirectory()).resolvingSymlinksInPath().path
        let scp = try PeerProcess.ferryStorescp(outputDirectory: dir)
        defer { scp.stop() }
        let (trickler, _) = try Self.peer("127.0.0.1", scp.port, "trickle")
        defer { kill(trickler.processIdentifier, SIGKILL) }
        #expect(scp.waitForLog("Received Store Request"))
        // The store's file is open in the output directory (named or not) before the kill.
        let open = waitUntil(timeout: 30) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(scp.pid)/fd")) ?? []
            return fds.contains {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(scp.pid)/fd/\($0)"))
                return target?.hasPrefix(dir + "/") ?? false
            }
        }
        #expect(open, "the receiver has the instance's file open")
        kill(scp.pid, SIGKILL)
        #expect(waitUntil(timeout: 10) { !scp.isRunning })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "nothing left behind")
    }
}
