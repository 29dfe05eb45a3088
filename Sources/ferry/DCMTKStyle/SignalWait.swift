import Dispatch
import Glibc

/// Waits for SIGINT or SIGTERM (a server's clean stop).
enum SignalWait {
    static func untilTerminated() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "ferry.signals")
            let once = Once()
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler { if once.fire() { continuation.resume() } }
                source.resume()
                sources.append(source)
            }
            Retainer.keep(sources)
        }
    }

    private final class Once: @unchecked Sendable {
        private var fired = false
        func fire() -> Bool { defer { fired = true }; return !fired }
    }

    private enum Retainer {
        nonisolated(unsafe) static var kept: [DispatchSourceSignal] = []
        static func keep(_ s: [DispatchSourceSignal]) { kept += s }
    }
}
