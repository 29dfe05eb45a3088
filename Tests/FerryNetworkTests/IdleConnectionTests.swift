import Foundation
import TestSupport
import Testing

/// Idle connections cannot starve a receiver (issue 29): with 256 descriptors (`ulimit -n`)
/// and 1,000 connections that never send a request, re-opened as soon as they are dropped, a
/// peer that asks for an association at once is served every time. Before, each idle
/// connection held a slot until the 30 s ARTIM timeout and the descriptors ran out, so a
/// legitimate C-ECHO failed for a minute at a time.
@Suite(.scratch)
struct IdleConnectionTests {
    /// Opens `count` connections to the port and keeps them open, re-opening each one the
    /// peer closes; prints "ready" once all are open, then a line every second.
    static let flood = #"""
        import selectors, socket, sys, time
        port, count = int(sys.argv[1]), int(sys.argv[2])
        sel = selectors.DefaultSelector()
        def connect():
            while True:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=30)
                    s.setblocking(False); sel.register(s, selectors.EVENT_READ); return
                except OSError:
                    time.sleep(0.01)
        for _ in range(count): connect()
        print("ready", flush=True)
        reopened, last = 0, time.time()
        while True:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                try:
                    if s.recv(4096): continue
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                sel.unregister(s); s.close(); connect(); reopened += 1
            if time.time() - last >= 1:
                print("reopened", reopened, flush=True); last = time.time()
        """#

    @Test func idleConnectionsDoNotStarveAnEcho() throws {
        let port = freePort()
        let receiver = try PeerProcess(
            "/bin/sh",
            ["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", FerryCLI.path, "storescp", "--ignore", String(port)],
            port: port)
        defer { receiver.stop() }
        let dir = try Corpus.temporaryDirectory("idle-flood")
        try Self.flood.write(toFile: dir + "/flood.py", atomically: false, encoding: .utf8)
        let flood = try PeerProcess(
            PeerProcess.python3, [dir + "/flood.py", String(port), "1000"], port: 0, waitForPort: false)
        defer { flood.stop() }
        #expect(flood.waitForLog("ready", timeout: 120), "the flood opened its connections: \(flood.log().suffix(500))")
        // Dropped connections come back at once: the receiver is under the flood throughout.
        #expect(flood.waitForLog("reopened", timeout: 30))
        for attempt in 1...5 {
            let echo = try Tools.run(
                "/usr/bin/echoscu", ["-to", "60", "-ta", "60", "-aec", "STORESCP", "127.0.0.1", String(port)],
                environment: ["TCP_NODELAY": "1"])
            #expect(echo.status == 0, "echo \(attempt) failed: \(echo.stderr)\n\(receiver.log().suffix(1500))")
        }
        #expect(receiver.isRunning)
        #expect(receiver.log().contains("256 descriptors (ulimit -n)"), "\(receiver.log().prefix(1500))")
        let last = flood.log().split(separator: "\n").last { $0.hasPrefix("reopened") } ?? ""
        #expect((Int(last.split(separator: " ").last ?? "") ?? 0) > 0, "the receiver dropped idle connections: \(last)")
    }
}
