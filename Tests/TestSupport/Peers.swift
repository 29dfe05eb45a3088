import Foundation
import Glibc

/// A free TCP port on loopback, never the same twice in one test process (suites run in
/// parallel). Chosen below the kernel's ephemeral range (32768-60999 by default), so no
/// outgoing connection takes it between this check and the peer's bind; checked free by
/// binding it.
public func freePort() -> Int {
    for _ in 0..<100_000 {
        let port = HandedOutPorts.candidate()
        if portCanBeBound(port), HandedOutPorts.claim(port) { return port }
    }
    fatalError("no free loopback port in 10000-31999 for worker \(HandedOutPorts.shard) of \(HandedOutPorts.shards)")
}

private enum HandedOutPorts {
    nonisolated(unsafe) static var ports: Set<Int> = []
    static let lock = NSLock()
    static func claim(_ port: Int) -> Bool { lock.withLock { ports.insert(port).inserted } }
    /// scripts/test runs the suite as several processes at once (FERRY_TEST_SHARD="i/n"): each
    /// takes only ports p with p % n == i, so two processes never pick the same port.
    static let (shard, shards): (Int, Int) = {
        let parts = (ProcessInfo.processInfo.environment["FERRY_TEST_SHARD"] ?? "").split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), (1...64).contains(n), (0..<n).contains(i)
        else {
            return (0, 1)
        }
        return (i, n)
    }()
    static func candidate() -> Int {
        let port = Int.random(in: 10_000..<32_000)
        return port - port % shards + shard
    }
}

private func portCanBeBound(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return withLoopbackAddress(port) { bind(fd, $0, $1) } == 0
}

/// A socket connected to 127.0.0.1:port (the caller closes it), or nil when nothing accepts.
public func connectToLoopback(_ port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    guard withLoopbackAddress(port, { connect(fd, $0, $1) }) == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// True when something accepts TCP connections on 127.0.0.1:port.
public func portIsOpen(_ port: Int) -> Bool {
    guard let fd = connectToLoopback(port) else { return false }
    close(fd)
    return true
}

/// `body` with the socket address 127.0.0.1:port.
public func withLoopbackAddress(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
}

/// A peer process started by a test: DCMTK storescp, pynetdicom's storescp, a scripted
/// hostile peer. Started on a free loopback port, stopped (by process id) when the test
/// calls `stop()` or the object goes away. Its output goes to a log file for diagnostics.
public final class PeerProcess: @unchecked Sendable {
    public let port: Int
    public let logPath: String
    private let process: Process

    public init(_ executable: String, _ arguments: [String], port: Int, waitForPort: Bool = true) throws {
        self.port = port
        let dir = try Corpus.temporaryDirectory("peer-log")
        logPath = dir + "/peer.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        // DCMTK peers are ~50x slower without TCP_NODELAY (delayed ACKs).
        process.environment = ProcessInfo.processInfo.environment.merging(["TCP_NODELAY": "1"]) { $1 }
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        guard waitForPort else { return }
        let process = self.process
        guard waitUntil(timeout: 60, { portIsOpen(port) || !process.isRunning }), process.isRunning else {
            stop()
            throw PeerError(message: "\(executable) did not listen on port \(port): \(self.log())")
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    /// The exit status, once it is no longer running.
    public var exitStatus: Int32 { process.terminationStatus }

    public func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// How often `text` occurs in the log so far.
    public func logCount(_ text: String) -> Int { log().components(separatedBy: text).count - 1 }

    /// Waits until the log holds `text` at least `count` times (true), or the peer exits or
    /// `timeout` passes (false).
    @discardableResult
    public func waitForLog(_ text: String, count: Int = 1, timeout: TimeInterval = 60) -> Bool {
        waitUntil(timeout: timeout) { logCount(text) >= count || !process.isRunning } && logCount(text) >= count
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(1)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// DCMTK storescp from Debian (not pynetdicom's same-named script on PATH).
    public static func dcmtkStorescp(outputDirectory: String, _ extra: [String] = []) throws -> PeerProcess {
        let port = freePort()
        return try PeerProcess("/usr/bin/storescp", ["-od", outputDirectory] + extra + [String(port)], port: port)
    }

    /// `ferry storescp` taking every syntax it knows (`+xa`), logging each store (`-v`).
    public static func ferryStorescp(outputDirectory: String) throws -> PeerProcess {
        let port = freePort()
        return try PeerProcess(
            FerryCLI.path, ["storescp", "-v", "+xa", "-od", outputDirectory, String(port)], port: port)
    }

    /// pynetdicom's storescp application.
    public static func pynetdicomStorescp(outputDirectory: String, _ extra: [String] = []) throws -> PeerProcess {
        let port = freePort()
        return try PeerProcess(
            python3, ["-m", "pynetdicom", "storescp", String(port), "-od", outputDirectory] + extra, port: port)
    }

    /// A Python script (text) run with the port as its only argument.
    public static func script(_ source: String, name: String) throws -> PeerProcess {
        let dir = try Corpus.temporaryDirectory("peer-script")
        let path = dir + "/\(name).py"
        try source.write(toFile: path, atomically: false, encoding: .utf8)
        let port = freePort()
        return try PeerProcess(python3, [path, String(port)], port: port)
    }

    public static var python3: String {
        for p in ["/root/.pyenv/shims/python3", "/usr/local/bin/python3", "/usr/bin/python3"]
        where FileManager.default.isExecutableFile(atPath: p) {
            if p == "/usr/bin/python3" { return p }
            if (try? Tools.run(p, ["-c", "import pynetdicom"]))?.status == 0 { return p }
        }
        return "/usr/bin/python3"
    }
}

/// Polls `condition` every 5 ms until it holds (true) or `timeout` passes (false): for tests
/// that wait for an event (a file, a log line, a state), with a bound generous enough for a
/// slow machine, instead of sleeping for a fixed time.
public func waitUntil(timeout: TimeInterval = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(5_000)
    }
}

public struct PeerError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Runs the `ferry` executable built next to the tests (the same build configuration: the
/// suite and the binary it drives come from one build).
public enum FerryCLI {
    public static let path: String = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("ferry").path
    }()

    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Tools.Output {
        try Tools.run(path, arguments, environment: environment)
    }
}

/// Peers started once per test process and shared by every test that asks for the same key
/// (where a peer keeps no state between tests); stopped by process id when the process exits.
public enum SharedPeers {
    nonisolated(unsafe) private static var peers: [String: PeerProcess] = [:]
    private static let lock = NSLock()
    private static let stopAtExit: Void = { atexit { SharedPeers.stopAll() } }()

    public static func peer(_ key: String, start: () throws -> PeerProcess) throws -> PeerProcess {
        lock.lock()
        defer { lock.unlock() }
        _ = stopAtExit
        if let p = peers[key], p.isRunning { return p }
        // Outside any test's scratch folder: the peer outlives the test that started it.
        let p = try Scratch.$folder.withValue(nil) { try start() }
        peers[key] = p
        return p
    }

    static func stopAll() {
        lock.lock()
        defer { lock.unlock() }
        for p in peers.values { p.stop() }
        peers = [:]
    }
}
