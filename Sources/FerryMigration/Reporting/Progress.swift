import Glibc
import Synchronization

/// Run progress: one live line on a terminal, plain periodic lines otherwise, JSON lines for
/// schedulers (`--json-progress`), nothing with `--quiet`. Written to stderr.
public final class Progress: Sendable {
    public enum Mode: Sendable { case auto, json, quiet }

    private struct Counters {
        var totalFiles = 0, totalBytes = 0, files = 0, bytes = 0, failures = 0
        var started = 0.0, lastPrint = 0.0
    }
    private let counters = Mutex(Counters())
    private let mode: Mode
    private let terminal: Bool

    public init(mode: Mode) {
        self.mode = mode
        terminal = isatty(2) == 1
    }

    public func begin(files: Int, bytes: Int) {
        counters.withLock { c in
            c = Counters(totalFiles: files, totalBytes: bytes, started: clock(), lastPrint: 0)
        }
    }

    public func fileFinished(bytes: Int, failed: Bool) {
        let line: String? = counters.withLock { c in
            c.files += 1
            c.bytes += bytes
            if failed { c.failures += 1 }
            let t = clock()
            let interval = terminal && mode == .auto ? 0.2 : 5.0
            guard t - c.lastPrint >= interval else { return nil }
            c.lastPrint = t
            return render(c, t)
        }
        if let line { emit(line, final: false) }
    }

    public func finish() {
        let line = counters.withLock { c in render(c, clock()) }
        emit(line, final: true)
    }

    private func render(_ c: Counters, _ t: Double) -> String {
        let elapsed = max(t - c.started, 0.001)
        let rate = Double(c.files) / elapsed
        let mbps = Double(c.bytes) / 1e6 / elapsed
        let eta = rate > 0 ? Int(Double(c.totalFiles - c.files) / rate) : 0
        if mode == .json {
            return
                "{\"files\":\(c.files),\"total_files\":\(c.totalFiles),\"bytes\":\(c.bytes),\"total_bytes\":\(c.totalBytes),"
                + "\"files_per_s\":\(Int(rate)),\"mb_per_s\":\(Int(mbps)),\"eta_s\":\(eta),\"failures\":\(c.failures)}"
        }
        return
            "\(c.files)/\(c.totalFiles) files, \(c.bytes / 1_000_000)/\(c.totalBytes / 1_000_000) MB, \(Int(rate)) files/s, "
            + "\(Int(mbps)) MB/s, ETA \(eta) s, \(c.failures) failed"
    }

    private func emit(_ line: String, final: Bool) {
        switch mode {
        case .quiet: return
        case .json: write(line + "\n")
        case .auto: write(terminal ? "\r\u{1B}[K" + line + (final ? "\n" : "") : line + "\n")
        }
    }

    private func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    private func clock() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
