import FerryDICOM
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
    associatedtype Channel: StoreChannel
    var journal: Journal { get }
    /// Checked between steps: a stop finishes the stores in flight and puts the rest back.
    var stopRequested: Bool { get }
    func takeWork(preferring plan: Int?) async -> (plan: Int, files: [SendStateMachine.File])?
    func putBack(plan: Int, files: [SendStateMachine.File]) async
    /// A new association for `plan`, with the number the journal records for it.
    func open(plan: Int) async throws -> (association: Channel, id: Int)
    /// Starts `file`'s store: its request and data set written (the message ID its response
    /// will name), or its outcome already final (nil: not sent, or the association failed).
    /// `upcoming` are the files that follow, for preparing them ahead.
    func begin(
        _ file: SendStateMachine.File, upcoming: ArraySlice<SendStateMachine.File>, on association: Channel
    ) async -> (outcome: StoreOutcome, messageID: UInt16?)
    /// A begun store with its response.
    func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome
    /// A begun store whose association failed before its response: the outcome is unknown.
    func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome
    /// After the journal holds them.
    func recorded(
        _ file: SendStateMachine.File, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition
    ) async
    func failUnsent(_ files: [SendStateMachine.File], _ error: ServiceError)
    func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle
    func close(_ association: Channel, _ mode: SendStateMachine.Close) async
    func journalFailed(_ error: Error)
}

/// Drives a `SendStateMachine` with a delegate: performs its actions and feeds back what
/// happened. `ferry storescu`, `ferry run`, C-MOVE sub-associations and C-GET sub-operations
/// all send through it. A journal commit runs concurrently with the store it does not concern
/// (marking the next file, recording the previous one), so the checkpoint costs no wall time.
/// With an Asynchronous Operations Window, stores are begun up to the window and their
/// responses matched by message ID (by the machine, which keeps the stores in flight) in
/// whatever order they come; the loop waits for one only when the window is full or nothing
/// else can be done.
public enum SendLoop {
    /// How many files are prepared ahead (the delegate's `send` receives them as `upcoming`).
    public static let lookahead = 4

    public static func run<D: SendLoopDelegate>(
        _ delegate: D, configuration: SendStateMachine.Configuration
    ) async -> SendStateMachine.Ending {
        var driver = Driver(delegate, configuration: configuration)
        return await driver.run()
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

/// One run of the loop: the machine, the open association, the events to feed back.
private struct Driver<D: SendLoopDelegate> {
    typealias File = SendStateMachine.File
    typealias Event = SendStateMachine.Event

    let delegate: D
    var machine: SendStateMachine
    var events: [Event] = [.start]
    var current: (association: D.Channel, id: Int)?
    /// Outcomes of finished stores until the machine says how to record them.
    var outcomes: [File: StoreOutcome] = [:]
    var lastOutcome: StoreOutcome?
    var ending = SendStateMachine.Ending.done
    var stopFed = false

    init(_ delegate: D, configuration: SendStateMachine.Configuration) {
        self.delegate = delegate
        machine = SendStateMachine(configuration)
    }

    mutating func run() async -> SendStateMachine.Ending {
        while !machine.isFinished {
            var actions: [SendStateMachine.Action] = []
            if !stopFed && delegate.stopRequested {
                stopFed = true
                actions += machine.handle(.stopRequested)
            }
            for event in events { actions += machine.handle(event) }
            events = []
            if actions.isEmpty, let open = current, machine.awaitingResponses > 0 {
                // Nothing to do but wait for a store in flight.
                events += await responses(on: open.association, wait: true)
                continue
            }
            if actions.isEmpty {
                // Every state waits for an action's result; none pending means a defect.
                assertionFailure("send state machine stalled")
                return .paused(ServiceError(.journal, "the send loop stalled"))
            }
            await perform(actions)
        }
        return ending
    }

    /// The journal's entries and the sends, together (a commit overlaps the stores it does not
    /// concern), then the other actions in order.
    private mutating func perform(_ actions: [SendStateMachine.Action]) async {
        var entries: [JournalEntry] = []
        var sends: [File] = []
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
            let (batch, journal) = (entries, delegate.journal)
            async let committed = Self.commit(batch, to: journal, association: id)
            let completions = await send(sends, on: open.association)
            events += await absorb(entries, await committed)
            events += completions
        } else {
            events += await absorb(entries, await Self.commit(entries, to: delegate.journal, association: id))
        }
        for action in rest { await perform(action) }
    }

    /// Begins each store, then reads the responses that have arrived (waiting for one when the
    /// window is full). The completions, as events.
    private mutating func send(_ files: [File], on channel: D.Channel) async -> [Event] {
        var completions: [Event] = []
        for file in files {
            let (outcome, messageID) = await delegate.begin(
                file, upcoming: machine.upcoming(SendLoop.lookahead), on: channel)
            if let messageID {
                _ = machine.handle(.begun(file, messageID: messageID, outcome))
            } else {
                completions.append(finish(file, outcome, usable: channel.isUsable))
            }
        }
        completions += await responses(on: channel, wait: machine.awaitingResponses >= machine.storesAtOnce)
        return completions
    }

    private mutating func perform(_ action: SendStateMachine.Action) async {
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
            let delegate = self.delegate
            if await SendLoop.sleep(seconds * Double.random(in: 0.5...1.5), unless: { delegate.stopRequested }) {
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

    private mutating func finish(_ file: File, _ outcome: StoreOutcome, usable: Bool) -> Event {
        outcomes[file] = outcome
        lastOutcome = outcome
        return .completed(file, outcome, associationUsable: usable)
    }

    /// The responses that have arrived (and, with `wait`, at least one): each completes the
    /// store it answers. A failed association, or a response that answers no store in flight
    /// or names another instance, ends every store awaiting one: outcome unknown.
    private mutating func responses(on channel: D.Channel, wait: Bool) async -> [Event] {
        var events: [Event] = []
        var mustWait = wait
        while machine.awaitingResponses > 0 {
            // An error of hasArrived is read (and reported) by nextStoreResponse.
            if !mustWait, !((try? await channel.hasArrived()) ?? true) { break }
            do {
                events.append(try await response(on: channel))
                mustWait = false
            } catch {
                if channel.isUsable { await channel.abort() }
                for (file, begun) in machine.takeStoresAwaitingResponses() {
                    events.append(finish(file, delegate.failed(begun, error), usable: false))
                }
            }
        }
        return events
    }

    /// The next response, matched to its store.
    private mutating func response(on channel: D.Channel) async throws -> Event {
        let response = try await channel.nextStoreResponse()
        let id = response.messageIDBeingRespondedTo ?? 0
        guard let (file, begun) = machine.takeStore(answering: id) else {
            throw AssociationError.protocolError("C-STORE-RSP answers message id \(id), which is not outstanding")
        }
        // PS3.7 9.3.1.2: a response names the instance of its request; one naming another says
        // nothing about ours, whose outcome is then unknown with the others'.
        if let named = response.affectedSOPInstanceUID, named != begun.sopInstanceUID {
            _ = machine.handle(.begun(file, messageID: id, begun))
            throw AssociationError.protocolError(
                "C-STORE-RSP names SOP Instance UID \(String(named.prefix(64)).escapedForLog()), the request \(begun.sopInstanceUID)"
            )
        }
        return finish(file, delegate.complete(begun, response: response), usable: channel.isUsable)
    }

    /// The events of a finished commit, once its records reached the delegate.
    private func absorb(_ entries: [JournalEntry], _ result: Result<[File: Int], Error>?) async -> [Event] {
        switch result {
        case nil:
            return []
        case .failure(let error):
            delegate.journalFailed(error)
            return [
                .journalFailed(ServiceError(.journal, "the manifest cannot be written: \(error)", underlying: error))
            ]
        case .success(let attempts):
            for case .record(let file, let outcome, let disposition) in entries {
                await delegate.recorded(file, outcome, disposition)
            }
            return entries.compactMap { entry in
                guard case .mark(let file) = entry else { return nil }
                return .marked(file, attempts: attempts[file] ?? 1)
            }
        }
    }

    private static func commit<J: SendJournal>(
        _ entries: [JournalEntry], to journal: J, association: Int
    ) async -> Result<[File: Int], Error>? {
        guard !entries.isEmpty else { return nil }
        do { return .success(try await journal.commit(entries, association: association)) } catch {
            return .failure(error)
        }
    }
}
