/// One association's sending, as a value: it takes events (work assigned, association opened,
/// file marked in the journal, response read, throttle decided, stop requested) and returns
/// the actions a driver performs (take work, open, mark, send, record, back off, close, put
/// back, finish). `ferry storescu` and `ferry run` drive the same machine through `SendLoop`;
/// what differs between them (DCMTK's halting and single attempts, the pipeline's retries and
/// pauses) is the `RetryPolicy` they configure it with.
///
/// The checkpoint protocol it keeps: a file is sent only after the journal confirmed it
/// `sending` (with its attempt counted), and its outcome is recorded only after its response
/// (or failure). While one file travels, the next is marked, so a journal commit costs no wall
/// time; a file marked but not sent when the association closes is unmarked. Files are named
/// by the driver's indices; up to `window` stores are in flight on one association. The stores
/// in flight are kept here and nowhere else: their attempts, and once begun the message ID
/// their response will answer (`takeStore(answering:)`).
public struct SendStateMachine: Sendable {
    public typealias File = Int

    public struct Configuration: Sendable, Equatable {
        public var policy: RetryPolicy
        /// Stores in flight on one association (1 without an Asynchronous Operations Window).
        public var window: Int
        /// The first wait before a reopen or a resend after out of resources, in seconds.
        public var backoff: Double
        /// The longest wait after out of resources.
        public var maxBackoff: Double
        /// How an association ends when its work is done (DCMTK --abort: `.abort`).
        public var close: Close

        public init(
            policy: RetryPolicy, window: Int = 1, backoff: Double = 1, maxBackoff: Double = 60, close: Close = .release
        ) {
            self.policy = policy
            self.window = max(1, window)
            self.backoff = backoff
            self.maxBackoff = maxBackoff
            self.close = close
        }
    }

    public enum Close: Sendable, Equatable { case release, abort }

    /// What is done with a file's outcome.
    public enum Disposition: Sendable, Equatable {
        case stored(warning: Bool)
        case failed
        /// Not stored yet: the file is sent again (after a back-off or on a new association).
        case retry
        /// The outcome is unknown: the file waits for the driver's check at the destination.
        case setAside
    }

    /// The pool's answer when a destination is out of resources (see `DestinationGate`).
    public enum Throttle: Sendable, Equatable {
        case wait
        /// This association leaves the pool; the others go on.
        case retire
        case pause(ServiceError)
    }

    public enum Ending: Sendable, Equatable {
        /// No more work.
        case done
        /// A stop was requested: stores in flight were finished, the rest put back.
        case stopped
        /// The destination is paused (unreachable, out of resources, journal not writable).
        case paused(ServiceError)
        /// A store without a status under a halting policy (DCMTK storescu without --no-halt).
        case halted
        /// Out of resources: this association left the pool.
        case retired
    }

    public enum Event: Sendable {
        case start
        case work(plan: Int, files: [File])
        case noWork
        /// The association is open; it may carry `window` stores at once (its negotiated
        /// Asynchronous Operations Window, 1 without one; the configured window is the most).
        case opened(window: Int)
        case openFailed(ServiceError)
        /// The journal committed the file as `sending`; `attempts` counts this one.
        case marked(File, attempts: Int)
        /// The file's request is written: its response will answer `messageID`. `begun` is
        /// its outcome so far (what was sent), which the response completes.
        case begun(File, messageID: UInt16, StoreOutcome)
        /// The file's store ended: a response, or a failure without one.
        case completed(File, StoreOutcome, associationUsable: Bool)
        /// The journal could not be written: nothing more may be sent.
        case journalFailed(ServiceError)
        case throttled(Throttle)
        case backOffElapsed
        case stopRequested
    }

    public enum Action: Sendable, Equatable {
        /// Ask for the next study (or plan), preferring the open association's plan.
        case takeWork(preferring: Int?)
        case open(plan: Int)
        /// Journal: the file is `sending`, one more attempt (before its request is written).
        case mark(File)
        /// Journal: a file marked but not sent goes back to planned, its attempt uncounted.
        case unmark(File)
        case send(File)
        /// Journal: the file's outcome (the driver holds the `StoreOutcome`).
        case record(File, Disposition)
        /// No association could be opened: these files fail without a status.
        case failUnsent([File], ServiceError)
        case backOff(seconds: Double)
        /// Out of resources: the driver asks the pool and answers `.throttled`.
        case consultDestination(attempts: Int)
        case close(Close)
        /// Files taken but not sent go back to the work queue.
        case putBack(plan: Int, [File])
        case finish(Ending)
    }

    private enum Phase: Equatable {
        case idle, awaitingWork, opening, active, finished
        case waiting(Wait)
    }

    private enum Wait: Equatable { case reopen, resend, destination }

    public let configuration: Configuration
    private var phase = Phase.idle
    private var plan: Int?
    private var associationOpen = false
    /// Files of the current work not yet sent, in order; the marked ones are at the front.
    private var pending: [File] = []
    private var marking: Set<File> = []
    private var marked: [File: Int] = [:]
    private var inFlight: [File: InFlight] = [:]

    /// A store in flight: its attempt, and once its request is written, the message ID its
    /// response must answer with what was sent.
    private struct InFlight {
        var attempts: Int
        var awaiting: (messageID: UInt16, begun: StoreOutcome)?
    }
    /// The association must be replaced once its stores in flight have ended.
    private var replaceAssociation = false
    private var ending: Ending?
    private var openFailures = 0
    private var backoff: Double
    /// Stores in flight on the open association (its negotiated window).
    private var window: Int

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        self.backoff = configuration.backoff
        self.window = configuration.window
    }

    public var isFinished: Bool { phase == .finished }
    /// Stores that may be in flight on the open association.
    public var storesAtOnce: Int { window }
    /// The files that follow the ones in flight, for preparing them ahead.
    public func upcoming(_ count: Int) -> ArraySlice<File> { pending.prefix(count) }
    /// Stores whose request is written and whose response has not been read.
    public var awaitingResponses: Int { inFlight.values.count { $0.awaiting != nil } }

    /// The store a response to `messageID` answers, no longer awaiting one (its `.completed`
    /// follows); nil when no store in flight has that message ID: a peer's protocol error.
    public mutating func takeStore(answering messageID: UInt16) -> (file: File, begun: StoreOutcome)? {
        guard let (file, store) = inFlight.first(where: { $0.value.awaiting?.messageID == messageID }),
            let awaiting = store.awaiting
        else { return nil }
        inFlight[file]?.awaiting = nil
        return (file, awaiting.begun)
    }

    /// Every store awaiting its response, in file order, no longer awaiting (the association
    /// failed: their outcome is unknown).
    public mutating func takeStoresAwaitingResponses() -> [(file: File, begun: StoreOutcome)] {
        let awaiting = inFlight.compactMap { file, store in store.awaiting.map { (file, $0.begun) } }.sorted {
            $0.0 < $1.0
        }
        for (file, _) in awaiting { inFlight[file]?.awaiting = nil }
        return awaiting
    }

    public mutating func handle(_ event: Event) -> [Action] {
        guard phase != .finished else { return [] }
        var actions: [Action] = []
        switch event {
        case .start:
            guard phase == .idle else { return [] }
            phase = .awaitingWork
            return [.takeWork(preferring: nil)]
        case .work(let newPlan, let files):
            guard phase == .awaitingWork else { return [] }
            if associationOpen && newPlan != plan {
                actions.append(.close(configuration.close))
                associationOpen = false
            }
            plan = newPlan
            pending = files
            phase = .active
        case .noWork:
            guard phase == .awaitingWork else { return [] }
            ending = ending ?? .done
            phase = .active
        case .opened(let negotiated):
            guard phase == .opening else { return [] }
            window = max(1, min(configuration.window, negotiated))
            associationOpen = true
            openFailures = 0
            phase = .active
        case .openFailed(let error):
            guard phase == .opening else { return [] }
            openFailures += 1
            if openFailures < configuration.policy.openAttempts && ending == nil {
                phase = .waiting(.reopen)
                return [.backOff(seconds: configuration.backoff * Double(openFailures))]
            }
            openFailures = 0
            switch configuration.policy.whenUnreachable {
            case .pause:
                ending = ending ?? .paused(error)
            case .failFiles:
                actions.append(.failUnsent(pending, error))
                pending = []
                if configuration.policy.haltWithoutStatus { ending = ending ?? .halted }
            }
            phase = .active
        case .marked(let file, let attempts):
            guard marking.remove(file) != nil else { return [] }
            marked[file] = attempts
        case .begun(let file, let messageID, let begun):
            inFlight[file]?.awaiting = (messageID, begun)
            return []
        case .completed(let file, let outcome, let usable):
            guard let store = inFlight.removeValue(forKey: file) else { return [] }
            actions += complete(file, outcome, attempts: store.attempts)
            // A dead association is closed (aborted) once its other stores have ended.
            if !usable { replaceAssociation = true }
        case .journalFailed(let error):
            // The failed transaction left its files as they were: none of the marks requested
            // was committed.
            marking = []
            ending = ending ?? .paused(error)
        case .throttled(let throttle):
            guard phase == .waiting(.destination) else { return [] }
            switch throttle {
            case .wait:
                phase = .waiting(.resend)
                let seconds = backoff
                backoff = min(backoff * 2, configuration.maxBackoff)
                return [.backOff(seconds: seconds)]
            case .retire:
                ending = ending ?? .retired
            case .pause(let reason):
                ending = ending ?? .paused(reason)
            }
            phase = .active
        case .backOffElapsed:
            switch phase {
            case .waiting(.reopen):
                phase = .opening
                guard ending == nil, let plan else {
                    phase = .active
                    break
                }
                return [.open(plan: plan)]
            case .waiting(.resend):
                phase = .active
            default:
                return []
            }
        case .stopRequested:
            ending = ending ?? .stopped
            // A wait ends now: the run stops instead of sleeping through it.
            if case .waiting = phase { phase = .active }
        }
        return actions + pump()
    }

    /// The verdict of the policy on a finished store, as journal records and what comes next.
    private mutating func complete(_ file: File, _ outcome: StoreOutcome, attempts: Int) -> [Action] {
        switch configuration.policy.verdict(for: outcome, attempts: attempts) {
        case .stored(let warning):
            backoff = configuration.backoff
            return [.record(file, .stored(warning: warning))]
        case .failed:
            return [.record(file, .failed)]
        case .halt:
            ending = ending ?? .halted
            return [.record(file, .failed)]
        case .retryOnNewAssociation:
            pending.insert(file, at: 0)
            replaceAssociation = true
            return [.record(file, .retry)]
        case .setAside:
            replaceAssociation = true
            return [.record(file, .setAside)]
        case .backOff:
            pending.insert(file, at: 0)
            if ending == nil { phase = .waiting(.destination) }
            return [.record(file, .retry), .consultDestination(attempts: attempts)]
        }
    }

    /// What can be done now: drain and end, replace the association, ask for work, open, send
    /// the marked files, and mark the next ones.
    private mutating func pump() -> [Action] {
        var actions: [Action] = []
        let drained = inFlight.isEmpty && marking.isEmpty
        if let ending {
            // An open or a take of work in progress ends first (its work is put back).
            guard drained, phase != .opening, phase != .awaitingWork else { return [] }
            actions += unmarkAll()
            if associationOpen {
                actions.append(.close(ending == .halted ? .abort : configuration.close))
                associationOpen = false
            }
            if let plan, !pending.isEmpty { actions.append(.putBack(plan: plan, pending)) }
            pending = []
            phase = .finished
            actions.append(.finish(ending))
            return actions
        }
        if replaceAssociation {
            guard drained else { return [] }
            actions += unmarkAll()
            if associationOpen { actions.append(.close(configuration.close)) }
            associationOpen = false
            replaceAssociation = false
        }
        guard phase == .active else { return actions }
        if pending.isEmpty && drained {
            phase = .awaitingWork
            actions.append(.takeWork(preferring: associationOpen ? plan : nil))
            return actions
        }
        guard associationOpen else {
            if inFlight.isEmpty, let plan {
                phase = .opening
                actions.append(.open(plan: plan))
            }
            return actions
        }
        // Send in order, only files the journal has confirmed.
        while inFlight.count < window, let next = pending.first, let attempts = marked[next] {
            pending.removeFirst()
            marked[next] = nil
            inFlight[next] = InFlight(attempts: attempts)
            actions.append(.send(next))
        }
        // Keep one file marked beyond the window, so its commit overlaps the stores in flight.
        var budget = window + 1 - inFlight.count - marked.count - marking.count
        for file in pending where budget > 0 && marked[file] == nil && !marking.contains(file) {
            marking.insert(file)
            actions.append(.mark(file))
            budget -= 1
        }
        return actions
    }

    private mutating func unmarkAll() -> [Action] {
        let files = pending.filter { marked[$0] != nil }
        marked = [:]
        return files.map { .unmark($0) }
    }
}
