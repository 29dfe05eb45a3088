import FerryNetwork

/// A journal entry of a send loop.
public enum JournalEntry: Sendable {
    case mark(SendStateMachine.File)
    case unmark(SendStateMachine.File)
    case record(SendStateMachine.File, StoreOutcome, SendStateMachine.Disposition)
}

/// Where a send loop checkpoints: the manifest for `ferry run`, memory for `ferry storescu`.
public protocol SendJournal: Sendable {
    /// Commits `entries` at once (all or none); returns the attempts, counting this one, of
    /// every file marked.
    func commit(_ entries: [JournalEntry], association: Int) async throws -> [SendStateMachine.File: Int]
}

/// What the actions of a send loop do for one tool: where work comes from, how an association
/// is opened and a file sent, and what is done with outcomes. Called from the loop's task only.
public protocol SendLoopDelegate {
    associatedtype Journal: SendJournal
    var journal: Journal { get }
    /// Checked between steps: a stop finishes the stores in flight and puts the rest back.
    var stopRequested: Bool { get }
    func takeWork(preferring plan: Int?) async -> (plan: Int, files: [SendStateMachine.File])?
    func putBack(plan: Int, files: [SendStateMachine.File]) async
    /// A new association for `plan`, with the number the journal records for it.
    func open(plan: Int) async throws -> (association: Association, id: Int)
    /// Starts `file`'s store: its request and data set written (the message ID its response
    /// will name), or its outcome already final (nil: not sent, or the association failed).
    /// `upcoming` are the files that follow, for preparing them ahead.
    func begin(
        _ file: SendStateMachine.File, upcoming: ArraySlice<SendStateMachine.File>, on association: Association
    ) async -> (outcome: StoreOutcome, messageID: UInt16?)
    /// A begun store with its response.
    func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome
    /// A begun store whose association failed before its response: the outcome is unknown.
    func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome
    /// After the journal holds them.
    func recorded(_ file: SendStateMachine.File, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition)
    func failUnsent(_ files: [SendStateMachine.File], _ error: ServiceError)
    func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle
    func close(_ association: Association, _ mode: SendStateMachine.Close) async
    func journalFailed(_ error: Error)
}

/// Drives a `SendStateMachine` with a delegate: performs its actions and feeds back what
/// happened. A journal commit runs concurrently with the store it does not concern (marking
/// the next file, recording the previous one), so the checkpoint costs no wall time. With an
/// Asynchronous Operations Window, stores are begun up to the window and their responses
/// matched by message ID in whatever order they come; the loop waits for one only when the
/// window is full or nothing else can be done.
public enum SendLoop {
    /// How many files are prepared ahead (the delegate's `send` receives them as `upcoming`).
    public static let lookahead = 4

    public static func run<D: SendLoopDelegate>(
        _ delegate: D, configuration: SendStateMachine.Configuration
    ) async -> SendStateMachine.Ending {
        var machine = SendStateMachine(configuration)
        let journal = delegate.journal
        var events: [SendStateMachine.Event] = [.start]
        var current: (association: Association, id: Int)?
        var outcomes: [SendStateMachine.File: StoreOutcome] = [:]
        var ending = SendStateMachine.Ending.done
        var stopFed = false

        var lastOutcome: StoreOutcome?
        /// Stores begun on the current association and not answered, by message ID.
        var inFlight: [UInt16: (file: SendStateMachine.File, outcome: StoreOutcome)] = [:]

        func finish(
            _ file: SendStateMachine.File, _ outcome: StoreOutcome, into events: inout [SendStateMachine.Event],
            usable: Bool
        ) {
            outcomes[file] = outcome
            lastOutcome = outcome
            events.append(.completed(file, outcome, associationUsable: usable))
        }

        /// The responses that have arrived (and, with `wait`, at least one): each completes its
        /// store. A failed association ends every store in flight, its outcome unknown.
        func responses(on association: Association, wait: Bool, into events: inout [SendStateMachine.Event]) async {
            var mustWait = wait
            while !inFlight.isEmpty {
                if !mustWait {
                    // An error here is read (and reported) by receiveStoreResponse.
                    guard (try? await association.hasArrived()) ?? true else { return }
                }
                do {
                    let (messageID, response) = try await association.receiveStoreResponse()
                    guard let begun = inFlight.removeValue(forKey: messageID) else { continue }
                    finish(
                        begun.file, delegate.complete(begun.outcome, response: response), into: &events,
                        usable: association.isUsable)
                    mustWait = false
                } catch {
                    for begun in inFlight.values.sorted(by: { $0.file < $1.file }) {
                        finish(begun.file, delegate.failed(begun.outcome, error), into: &events, usable: false)
                    }
                    inFlight = [:]
                }
            }
        }

        /// The events of a finished commit, once its records reached the delegate.
        func absorb(
            _ entries: [JournalEntry], _ result: Result<[SendStateMachine.File: Int], Error>?
        )
            -> [SendStateMachine.Event]
        {
            switch result {
            case nil:
                return []
            case .failure(let error):
                delegate.journalFailed(error)
                return [
                    .journalFailed(
                        ServiceError(.journal, "the manifest cannot be written: \(error)", underlying: error))
                ]
            case .success(let attempts):
                for case .record(let file, let outcome, let disposition) in entries {
                    delegate.recorded(file, outcome, disposition)
                }
                return entries.compactMap { entry in
                    guard case .mark(let file) = entry else { return nil }
                    return .marked(file, attempts: attempts[file] ?? 1)
                }
            }
        }

        while !machine.isFinished {
            var actions: [SendStateMachine.Action] = []
            if !stopFed && delegate.stopRequested {
                stopFed = true
                actions += machine.handle(.stopRequested)
            }
            for event in events { actions += machine.handle(event) }
            events = []
            if actions.isEmpty, let open = current, !inFlight.isEmpty {
                // Nothing to do but wait for a store in flight.
                await responses(on: open.association, wait: true, into: &events)
                continue
            }
            if actions.isEmpty {
                // Every state waits for an action's result; none pending means a defect.
                assertionFailure("send state machine stalled")
                return .paused(ServiceError(.journal, "the send loop stalled"))
            }
            var entries: [JournalEntry] = []
            var sends: [SendStateMachine.File] = []
            var rest: [SendStateMachine.Action] = []
            for action in actions {
                switch action {
                case .mark(let file): entries.append(.mark(file))
                case .unmark(let file): entries.append(.unmark(file))
                case .record(let file, let disposition):
                    if let outcome = outcomes.removeValue(forKey: file) {
                        entries.append(.record(file, outcome, disposition))
                    }
                case .send(let file): sends.append(file)
                default: rest.append(action)
                }
            }
            let id = current?.id ?? 0
            if let open = current, !sends.isEmpty {
                let batch = entries
                async let committed = commit(batch, to: journal, association: id)
                var completions: [SendStateMachine.Event] = []
                for file in sends {
                    let (outcome, messageID) = await delegate.begin(
                        file, upcoming: machine.upcoming(lookahead), on: open.association)
                    if let messageID {
                        inFlight[messageID] = (file, outcome)
                    } else {
                        finish(file, outcome, into: &completions, usable: open.association.isUsable)
                    }
                }
                await responses(on: open.association, wait: inFlight.count >= machine.storesAtOnce, into: &completions)
                events += absorb(entries, await committed)
                events += completions
            } else {
                events += absorb(entries, await commit(entries, to: journal, association: id))
            }
            for action in rest {
                switch action {
                case .takeWork(let preferred):
                    if let work = await delegate.takeWork(preferring: preferred) {
                        events.append(.work(plan: work.plan, files: work.files))
                    } else {
                        events.append(.noWork)
                    }
                case .open(let plan):
                    do {
                        let opened = try await delegate.open(plan: plan)
                        current = opened
                        events.append(.opened(window: opened.association.invokeWindow))
                    } catch {
                        events.append(.openFailed(ServiceError(.unreachable, wrapping: error)))
                    }
                case .failUnsent(let files, let error):
                    delegate.failUnsent(files, error)
                case .backOff(let seconds):
                    if await sleep(seconds * Double.random(in: 0.5...1.5), unless: { delegate.stopRequested }) {
                        events.append(.backOffElapsed)
                    } else {
                        stopFed = true
                        events.append(.stopRequested)
                    }
                case .consultDestination(let attempts):
                    let outcome = lastOutcome ?? StoreOutcome(path: "", sopInstanceUID: "")
                    events.append(.throttled(delegate.throttle(attempts: attempts, outcome: outcome)))
                case .close(let mode):
                    if let open = current { await delegate.close(open.association, mode) }
                    current = nil
                case .putBack(let plan, let files):
                    await delegate.putBack(plan: plan, files: files)
                case .finish(let end):
                    ending = end
                case .mark, .unmark, .record, .send:
                    break
                }
            }
        }
        return ending
    }

    private static func commit<J: SendJournal>(
        _ entries: [JournalEntry], to journal: J, association: Int
    ) async -> Result<[SendStateMachine.File: Int], Error>? {
        guard !entries.isEmpty else { return nil }
        do { return .success(try await journal.commit(entries, association: association)) } catch {
            return .failure(error)
        }
    }

    /// Sleeps `seconds` in short steps; false when `stop` became true first.
    static func sleep(_ seconds: Double, unless stop: () -> Bool) async -> Bool {
        var left = max(0, seconds)
        while left > 0 {
            if stop() { return false }
            let step = min(left, 0.1)
            try? await Task.sleep(for: .seconds(step))
            left -= step
        }
        return !stop()
    }
}
