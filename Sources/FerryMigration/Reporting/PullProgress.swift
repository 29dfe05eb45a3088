import Foundation

/// A pull's progress line, both sides: the source's studies and instances retrieved and the
/// instances forwarded to the destination, each with its rate over this run; written before
/// each batch is sent and when the pull ends (the batch's own send line follows it).
public struct PullProgress: Sendable {
    private let started = Date()
    private let baseline: (received: Int, forwarded: Int)

    public init(manifest: Manifest) throws {
        baseline = (try manifest.inventorySummary().receivedInstances, try Self.forwarded(manifest))
    }

    /// Instances the destination took (with or without a warning).
    static func forwarded(_ manifest: Manifest) throws -> Int {
        let counts = try manifest.counts()
        return (counts[.done] ?? 0) + (counts[.doneWarning] ?? 0)
    }

    public func line(manifest: Manifest, json: Bool) throws -> String {
        let s = try manifest.inventorySummary()
        let retrieved = try manifest.sourceStudyStates()[.retrieved] ?? 0
        let forwarded = try Self.forwarded(manifest)
        let elapsed = max(Date().timeIntervalSince(started), 0.001)
        let (retrieveRate, forwardRate) = (
            Double(s.receivedInstances - baseline.received) / elapsed, Double(forwarded - baseline.forwarded) / elapsed
        )
        if json {
            return
                "{\"pull\":{\"studies\":\(s.studies),\"studies_retrieved\":\(retrieved),\"listed\":\(s.listedInstances),"
                + "\"retrieved\":\(s.receivedInstances),\"retrieved_per_s\":\(Int(retrieveRate)),"
                + "\"forwarded\":\(forwarded),\"forwarded_per_s\":\(Int(forwardRate))}}"
        }
        return
            "pull: \(retrieved)/\(s.studies) studies retrieved, \(s.receivedInstances)/\(s.listedInstances) listed instances (\(Int(retrieveRate))/s), \(forwarded) forwarded (\(Int(forwardRate))/s)"
    }
}
