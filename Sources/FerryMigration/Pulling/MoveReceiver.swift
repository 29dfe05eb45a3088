import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation
import Logging
import Synchronization

/// Ferry's own storage SCP for a pull by C-MOVE (`source.receiver`), running as long as the
/// pull: the source's sub-operations arrive on associations of their own, every syntax taken as
/// the source holds it, each instance kept in `staging/<its study>`. Each move says which study
/// it awaits; the instances of that study kept meanwhile are its outcome. An instance of a
/// study no move awaits stays staged, and the next run adopts and sends it.
public final class MoveReceiver: Sendable {
    /// The AE title the source sends to (its move destination).
    public let ae: String
    /// What came of each awaited study: SOP Instance UID -> staged file, all of it and what was
    /// not drained yet.
    private let arrivals = Mutex<[String: (all: [String: String], undrained: [String: String])]>([:])

    init(ae: String) { self.ae = ae }

    /// Runs `body` with the receiver listening on `source.receiver.port` (it must be free);
    /// stops the receiver when `body` returns.
    static func serving<T>(
        job: Job, staging: String, logger: Logger, _ body: (MoveReceiver) async throws -> T
    ) async throws -> T {
        let setting = job.source.receiver ?? Job.Source.Receiver()
        let receiver = MoveReceiver(ae: setting.ae)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var settings = ReceiverSettings(port: setting.port)
        settings.policy.aeTitle = setting.ae
        settings.policy.preference = .all
        settings.output.directory = staging
        settings.output.sorting = .studyUID(prefix: "")
        settings.output.keepExisting = true
        settings.onKept = { receiver.kept($0) }
        let scp = StorageSCP(settings: settings, logger: logger)
        let (listening, signal) = AsyncStream<Int>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { signal.finish() }
                try await scp.run(onListening: { signal.yield($0) })
            }
            var started = false
            for await _ in listening {
                started = true
                break
            }
            guard started else {
                // The listener ended before it listened: its error says why (port taken...).
                do { try await group.next() } catch {
                    throw MigrationError.invalidJob(
                        "job \(job.name): source.receiver cannot listen on port \(setting.port): \(error)")
                }
                throw MigrationError.invalidJob("job \(job.name): source.receiver did not start")
            }
            defer { group.cancelAll() }
            return try await body(receiver)
        }
    }

    /// A move of `study` begins: what comes of it from now on is its own.
    func expect(_ study: String) {
        arrivals.withLock { $0[study] = ([:], [:]) }
    }

    /// The instances of `study` kept since the last drain (each file whole), while its move
    /// goes on: forwarded before the study is complete.
    func drain(_ study: String) -> [String: String] {
        arrivals.withLock { arrivals in
            defer { arrivals[study]?.undrained = [:] }
            return arrivals[study]?.undrained ?? [:]
        }
    }

    /// How many instances of `study` were kept so far: while it grows, its move is at work.
    func arrivals(of study: String) -> Int {
        arrivals.withLock { $0[study]?.all.count ?? 0 }
    }

    /// The move of `study` ended: every instance kept for it, drained or not (none arrive after
    /// the final C-MOVE response, which the source sends once every sub-operation is answered).
    func take(_ study: String) -> [String: String] {
        arrivals.withLock { $0.removeValue(forKey: study)?.all ?? [:] }
    }

    private func kept(_ instance: KeptInstance) {
        arrivals.withLock {
            guard $0[instance.study] != nil else { return }
            $0[instance.study]?.all[instance.reference.sopInstance] = instance.path
            $0[instance.study]?.undrained[instance.reference.sopInstance] = instance.path
        }
    }
}
