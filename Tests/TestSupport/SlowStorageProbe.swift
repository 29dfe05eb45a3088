import Foundation

/// The check that a receiver's blocked storage stalls only the store it blocks: a receiver
/// started with `--block-storage` (its first store's write blocks its thread) gets one store
/// from DCMTK storescu; once that store is blocked, C-ECHOs on new associations (DCMTK echoscu)
/// and stores on another association must be answered while it stays blocked.
public enum SlowStorageProbe {
    public struct Result: Sendable {
        /// Wall time of each C-ECHO, seconds (process start to exit), and whether it succeeded.
        public var echoes: [(seconds: Double, succeeded: Bool)]
        /// Wall time of the second association's stores, seconds, and whether they succeeded.
        public var stores: (seconds: Double, succeeded: Bool)
        /// Whether the blocked store was still blocked when the last answer came.
        public var stillBlocked: Bool
    }

    /// `receiver`: started with `--block-storage` longer than the probe takes. `blocked` and
    /// `others`: files for the blocked store and for the second association.
    public static func run(
        receiver: PeerProcess, calledAE: String, blocked: String, others: [String], echoes: Int = 4
    ) throws -> Result {
        let env = ["TCP_NODELAY": "1"]
        let port = String(receiver.port)
        let firstDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? Tools.run("/usr/bin/storescu", ["-aec", calledAE, "127.0.0.1", port, blocked], environment: env)
            firstDone.signal()
        }
        // The blocked store ends with the block; nothing of it outlives the probe.
        defer { firstDone.wait() }
        guard receiver.waitForLog("(--block-storage)", timeout: 60) else {
            throw PeerError(message: "the first store never reached the blocked write: \(receiver.log())")
        }
        func timed(_ body: () throws -> Tools.Output) rethrows -> (Double, Bool) {
            let start = Date()
            let out = try body()
            return (Date().timeIntervalSince(start), out.status == 0)
        }
        var result = Result(echoes: [], stores: (0, false), stillBlocked: false)
        for _ in 0..<echoes {
            result.echoes.append(
                try timed {
                    try Tools.run("/usr/bin/echoscu", ["-aec", calledAE, "127.0.0.1", port], environment: env)
                })
        }
        result.stores = try timed {
            try Tools.run("/usr/bin/storescu", ["-aec", calledAE, "127.0.0.1", port] + others, environment: env)
        }
        // The blocked store answers only when its write returns: not yet.
        result.stillBlocked = receiver.logCount("Stored ") == others.count
        return result
    }

    /// Checks `result` against the bounds: every echo and the other stores answered well
    /// inside the 10 s block (3 s: generous for a loaded machine, unreachable for a blocked
    /// loop), the blocked store still blocked at the end. Returns the failures, empty when none.
    public static func failures(_ result: Result) -> [String] {
        var failures: [String] = []
        for (i, echo) in result.echoes.enumerated() where !echo.succeeded || echo.seconds > 3 {
            failures.append("C-ECHO \(i + 1): \(echo.succeeded ? "answered" : "failed") after \(echo.seconds) s")
        }
        if !result.stores.succeeded || result.stores.seconds > 3 {
            failures.append("the other association's stores: \(result.stores)")
        }
        if !result.stillBlocked { failures.append("the blocked store was not blocked while the others were served") }
        return failures
    }
}
