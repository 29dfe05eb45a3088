import Foundation
import TestSupport
import Testing

/// A scripted raw-socket peer misbehaves in one way per test; Ferry must abort or report a
/// clear error, quickly, without allocating what the peer announces and without crashing.
@Suite(.serialized, .scratch)
struct HostilePeerTests {
    /// The peer: accepts one connection, reads the A-ASSOCIATE-RQ, then acts out `mode`,
    /// and writes what it received afterwards (hex PDU types) to `<port>.log` beside the script.
    static let script = #"""
        import socket, struct, sys, time
        port = int(sys.argv[1]); mode = sys.argv[2]; logpath = sys.argv[3]
        srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port)); srv.listen(1)
        def recv_exact(n):
            b = b""
            while len(b) < n:
                c = conn.recv(n - len(b))
                if not c: raise EOFError
                b += c
            return b
        def read_pdu():
            h = recv_exact(6); t, n = h[0], struct.unpack(">I", h[2:6])[0]
            return t, recv_exact(n)
        def item(t, body): return bytes([t, 0]) + struct.pack(">H", len(body)) + body
        def accept(rq):
            # Accept the first proposed context with its first transfer syntax.
            p = 68; pcs = []
            while p < len(rq):
                t, n = rq[p], struct.unpack(">H", rq[p+2:p+4])[0]
                if t == 0x20:
                    pid = rq[p+4]; q = p + 8; ts = None
                    while q < p + 4 + n:
                        st, sn = rq[q], struct.unpack(">H", rq[q+2:q+4])[0]
                        if st == 0x40 and ts is None: ts = rq[q+4:q+4+sn]
                        q += 4 + sn
                    pcs.append((pid, ts))
                p += 4 + n
            body = struct.pack(">HH", 1, 0) + rq[4:36] + bytes(32) + item(0x10, b"1.2.840.10008.3.1.1.1")
            for i, (pid, ts) in enumerate(pcs):
                body += item(0x21, bytes([pid, 0, 0 if i == 0 else 3, 0]) + item(0x40, ts))
            maxlen = {"unlimited": 0, "max-length-4g": 0xFFFFFFFF}.get(mode, 16384)
            window = item(0x53, struct.pack(">HH", 2, 2)) if mode.startswith("async") else b""
            body += item(0x50, item(0x51, struct.pack(">I", maxlen)) + item(0x52, b"1.2.3.4") + window)
            conn.sendall(bytes([2, 0]) + struct.pack(">I", len(body)) + body)
            return pcs[0][0]
        def command_rsp(pid, msgid, instance=None):
            # C-STORE-RSP answering `msgid`, implicit VR LE, success (naming `instance`, if given).
            def el(g, e, v): return struct.pack("<HHI", g, e, len(v)) + v
            body = el(0, 0x100, struct.pack("<H", 0x8001)) + el(0, 0x120, struct.pack("<H", msgid)) + \
                   el(0, 0x800, struct.pack("<H", 0x0101)) + el(0, 0x900, struct.pack("<H", 0))
            if instance: body += el(0, 0x1000, instance)
            cmd = el(0, 0, struct.pack("<I", len(body))) + body
            pdv = struct.pack(">I", len(cmd) + 2) + bytes([pid, 3]) + cmd
            conn.sendall(bytes([4, 0]) + struct.pack(">I", len(pdv)) + pdv)
        seen = []
        while True:  # skip the test harness's readiness probe (connects and closes)
            conn, _ = srv.accept()
            try:
                t, rq = read_pdu(); break
            except EOFError:
                conn.close()
        try:
            if mode == "huge-length":
                conn.sendall(bytes([2, 0]) + struct.pack(">I", 0xFFFFFFFF) + b"\0" * 64)
            elif mode == "unknown-type":
                conn.sendall(bytes([0x09, 0]) + struct.pack(">I", 4) + b"\0" * 4)
            elif mode == "truncated":
                conn.sendall(bytes([2, 0]) + struct.pack(">I", 200) + b"\0" * 50); conn.close()
            elif mode == "silent":
                pass  # answer nothing; the read loop below sees Ferry give up
            elif mode == "endless-command":
                pid = accept(rq)
                while True:  # read Ferry's request, then send command fragments that never end
                    t, body = read_pdu()
                    if t != 4 or (body[5] & 2 and not body[5] & 1): break
                frag = struct.pack(">I", 65536 + 2) + bytes([pid, 1]) + b"\0" * 65536
                try:
                    for _ in range(64): conn.sendall(bytes([4, 0]) + struct.pack(">I", len(frag)) + frag)
                except OSError:
                    pass  # Ferry gave up and closed
            elif mode.startswith("async"):
                # A window of 2: both requests read before any response; answered in reverse
                # order, or with a message ID never sent.
                pid = accept(rq)
                def read_request():
                    while True:
                        t, body = read_pdu()
                        if t != 4: raise EOFError
                        if body[5] & 2 and not body[5] & 1: return
                read_request(); read_request(); seen.append("2-in-flight")
                if mode == "async-reversed":
                    command_rsp(pid, 2); command_rsp(pid, 1)
                    read_request(); command_rsp(pid, 3)
                else:
                    command_rsp(pid, 99)
            elif mode in ("wrong-message-id", "huge-data", "unlimited", "max-length-4g", "wrong-instance"):
                pid = accept(rq)
                longest = 0
                while True:  # read the command and the data set up to the last data fragment
                    t, body = read_pdu()
                    longest = max(longest, len(body))
                    if t != 4: break
                    if body[5] & 2 and not body[5] & 1: break
                if mode in ("unlimited", "max-length-4g"): seen.append("max%d" % longest); command_rsp(pid, 1)
                elif mode == "wrong-instance": command_rsp(pid, 1, b"1.2.3.999\0")
                elif mode == "wrong-message-id": command_rsp(pid, 999)
                else: conn.sendall(bytes([4, 0]) + struct.pack(">I", 0x7FFFFFFF) + b"\0" * 64)
            conn.settimeout(30)
            while True:
                t, body = read_pdu(); seen.append("%02x" % t)
                if t == 5: conn.sendall(bytes([6, 0]) + struct.pack(">I", 4) + b"\0" * 4)  # A-RELEASE-RP
        except Exception:
            pass
        open(logpath, "w").write(" ".join(seen))
        """#

    /// `copies`: the file is given that many times (one store each).
    func run(
        _ mode: String, extra: [String] = [], copies: Int = 1
    ) throws -> (
        out: Tools.Output, peerSaw: String, seconds: TimeInterval
    ) {
        let dir = try Corpus.temporaryDirectory("hostile")
        let scriptPath = dir + "/peer.py", logPath = dir + "/peer.log"
        try Self.script.write(toFile: scriptPath, atomically: false, encoding: .utf8)
        let port = freePort()
        let peer = try PeerProcess(PeerProcess.python3, [scriptPath, String(port), mode, logPath], port: port)
        defer { peer.stop() }
        let file = try #require(try Interop.uncompressedFiles("tiny").first)
        let start = Date()
        let out = try FerryCLI.run(
            ["storescu", "-ta", "30", "-td", "30", "-xi", "-R"] + extra + ["127.0.0.1", String(port)]
                + Array(repeating: file, count: copies))
        let seconds = Date().timeIntervalSince(start)
        // The peer writes its log when Ferry has closed the connection, then exits.
        _ = waitUntil(timeout: 60) { !peer.isRunning }
        return (out, (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "", seconds)
    }

    @Test func pduLengthOfFourGigabytesIsRefusedUnread() throws {
        let (out, peerSaw, seconds) = try run("huge-length")
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains("announces 4294967295 bytes"), "\(out.stderr)")
        #expect(peerSaw.hasPrefix("07"), "Ferry answers with A-ABORT, peer saw \(peerSaw)")
        #expect(seconds < 20, "refused from the header, not after the 30 s timeouts (\(seconds) s)")
    }

    @Test func unknownPDUTypeIsAborted() throws {
        let (out, peerSaw, _) = try run("unknown-type")
        #expect(out.status == 1)
        #expect(out.stderr.contains("unrecognized PDU type 0x09"), "\(out.stderr)")
        #expect(peerSaw.hasPrefix("07"), "peer saw \(peerSaw)")
    }

    @Test func truncatedPDUEndsCleanly() throws {
        let (out, _, seconds) = try run("truncated")
        #expect(out.status == 1)
        #expect(out.stderr.contains("closed"), "\(out.stderr)")
        #expect(seconds < 20, "ended at the close, not after the 30 s timeouts (\(seconds) s)")
    }

    @Test func silentPeerHitsTheACSETimeout() throws {
        let (out, _, seconds) = try run("silent", extra: ["-ta", "0.5"])
        #expect(out.status == 1)
        #expect(out.stderr.contains("ACSE timeout"), "\(out.stderr)")
        #expect(seconds < 20, "gave up at the 0.5 s ACSE timeout; the peer would wait 30 s (\(seconds) s)")
    }

    @Test func responseWithWrongMessageIDAborts() throws {
        let (out, peerSaw, _) = try run("wrong-message-id")
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("answers message id 999, which is not outstanding"), "\(out.stderr)")
        #expect(peerSaw.hasPrefix("07"), "peer saw \(peerSaw)")
    }

    /// A peer announcing maximum length 0 (unlimited) still gets P-DATA no longer than our
    /// own maximum receive length (16384).
    /// A peer granting a window of 2 reads two stores before answering, and answers them in
    /// reverse order: each response completes its own store (PS3.7 D.3.3.3), all three stored.
    @Test func windowedResponsesInReverseOrderCompleteTheirOwnStores() throws {
        let r = try run("async-reversed", extra: ["--async-window", "2"], copies: 3)
        #expect(r.out.status == 0, "\(r.out.stderr)")
        #expect(r.peerSaw.hasPrefix("2-in-flight"), "\(r.peerSaw)")
        #expect(r.peerSaw.contains("05"), "released: \(r.peerSaw)")
    }

    /// A response to a message ID that is not outstanding is a protocol error: aborted, and
    /// the stores in flight have no outcome (failed without a status).
    @Test func aWindowedResponseToAnUnknownMessageIDAborts() throws {
        let r = try run("async-unknown-id", extra: ["--async-window", "2"], copies: 3)
        #expect(r.out.status == 10, "\(r.out.stderr)")
        #expect(r.peerSaw.contains("07"), "aborted: \(r.peerSaw)")
        #expect(r.out.stderr.contains("not outstanding"), "\(r.out.stderr)")
    }

    @Test func unlimitedPeerMaximumIsBoundedByOurs() throws {
        let (out, peerSaw, _) = try run("unlimited")
        #expect(out.status == 0, "\(out.stderr)")
        let longest = Int(peerSaw.split(separator: " ").first { $0.hasPrefix("max") }?.dropFirst(3) ?? "") ?? -1
        #expect(longest > 1000 && longest <= 16384, "longest P-DATA-TF variable field \(longest)")
    }

    /// A peer announcing a maximum length of 4 GiB (0xFFFFFFFF) gets PDUs no longer than
    /// Ferry's own ceiling (64 MiB), and the store succeeds: no buffer is sized from its word.
    @Test func aFourGigabyteMaximumLengthIsBoundedByOurCeiling() throws {
        let (out, peerSaw, _) = try run("max-length-4g")
        #expect(out.status == 0, "\(out.stderr)")
        let longest = Int(peerSaw.split(separator: " ").first { $0.hasPrefix("max") }?.dropFirst(3) ?? "") ?? -1
        #expect(longest > 0 && longest <= 64 << 20, "longest P-DATA-TF variable field \(longest)")
    }

    /// A success response naming another SOP Instance UID is no answer to our store: the
    /// association is aborted and the store fails without a status (storescu: exit 10).
    @Test func aResponseNamingAnotherInstanceIsNotASuccess() throws {
        let (out, peerSaw, _) = try run("wrong-instance")
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("names SOP Instance UID 1.2.3.999"), "\(out.stderr)")
        #expect(peerSaw.hasPrefix("07"), "peer saw \(peerSaw)")
    }

    /// Command fragments that never end are cut off at 1 MiB: nothing accumulates without bound.
    @Test func anEndlessCommandSetIsCutOffAtOneMebibyte() throws {
        let (out, peerSaw, _) = try run("endless-command", extra: ["-pdu", "131072"])
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("command set longer than 1 MiB"), "\(out.stderr)")
        _ = peerSaw  // the peer may be cut off mid-send before it reads the A-ABORT
    }

    @Test func dataPDULongerThanOurMaximumIsRefused() throws {
        let (out, peerSaw, _) = try run("huge-data")
        #expect(out.status == 10, "\(out.stderr)")
        #expect(out.stderr.contains("more than the limit of 16384"), "\(out.stderr)")
        #expect(peerSaw.hasPrefix("07"), "peer saw \(peerSaw)")
    }
}
