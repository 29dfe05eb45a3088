import Dispatch
import FerryMigration
import FerryServices
import Glibc

/// SIGINT/SIGTERM during `ferry run`: the runner stops taking files and finishes cleanly.
final class SignalStop: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(_ flag: StopFlag) {
        let queue = DispatchQueue(label: "ferry.run.signals")
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler {
                FileHandleWriter.stderr(
                    "\nrun: stopping: finishing the files in flight (signal again has no further effect)\n")
                flag.stop()
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}
