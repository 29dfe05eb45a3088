/// What the associations of one pool share about their destination, as a value (the pipeline
/// keeps it under a lock): how many are sending, and how often in a row it answered out of
/// resources. It decides, for a store answered 0xA7xx, whether the association waits and
/// sends again, leaves the pool (fewer associations), or the destination is paused.
public struct DestinationGate: Sendable, Equatable {
    public let maxAttempts: Int
    public let associations: Int
    public private(set) var active = 0
    public private(set) var consecutiveOutOfResources = 0
    /// Why the destination is paused: no association takes new work.
    public private(set) var paused: ServiceError?

    public init(maxAttempts: Int, associations: Int) {
        self.maxAttempts = max(1, maxAttempts)
        self.associations = max(1, associations)
    }

    public mutating func join() { active += 1 }
    public mutating func leave() { active = max(0, active - 1) }

    /// A store succeeded: the destination is not (or no longer) out of resources.
    public mutating func stored() { consecutiveOutOfResources = 0 }

    public mutating func pause(_ reason: ServiceError) { paused = paused ?? reason }

    /// A file was answered out of resources on its `attempts`-th attempt.
    public mutating func outOfResources(attempts: Int, status: String) -> SendStateMachine.Throttle {
        consecutiveOutOfResources += 1
        let (limit, overflow) = maxAttempts.multipliedReportingOverflow(by: associations)
        if attempts >= maxAttempts || (!overflow && consecutiveOutOfResources >= limit) {
            let reason = ServiceError(.refused, "the destination keeps answering out of resources (\(status))")
            pause(reason)
            return .pause(reason)
        }
        if active > 1 {
            // This association's leaving is counted here: the caller must not leave again.
            active -= 1
            return .retire
        }
        return .wait
    }
}
