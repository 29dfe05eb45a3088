import Synchronization

/// Set from a signal handler or a peer's C-CANCEL: stop taking new files, finish what is in flight.
public final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func stop() { flag.store(true, ordering: .relaxed) }
    public var isSet: Bool { flag.load(ordering: .relaxed) }
}
