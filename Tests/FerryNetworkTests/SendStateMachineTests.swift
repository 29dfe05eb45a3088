import FerryNetwork
import FerryServices
import TestSupport
import Testing

/// The send state machine that `ferry storescu` and `ferry run` share, driven without a socket:
/// a scripted destination answers each store, a journal in a dictionary checks the checkpoint
/// protocol (no request before its file is `sending`, no outcome before its response).
@Suite(.scratch)
struct SendStateMachineTests {
    typealias Machine = SendStateMachine
    typealias Action = SendStateMachine.Action

    /// What the scripted destination answers: a status, or no response (association lost).
    enum Answer {
        case status(UInt16)
        case lost
        case unsendable(ServiceError.Code)
    }

    /// A driver like `SendLoop`, sequential, with scripted answers.
    struct Simulation {
        var machine: Machine
        /// Work items handed out in order.
        var work: [(plan: Int, files: [Int])]
        /// The answer to a file's n-th store (1-based); missing: success.
        var answers: [Int: [Answer]] = [:]
        /// Results of successive opens; missing: success.
        var opens: [Bool] = []
        var throttles: [Machine.Throttle] = []
        /// Stop after this many sends.
        var stopAfterSends: Int?
        /// The journal fails on its n-th commit.
        var failingCommit: Int?

        var trace: [Action] = []
        var journal: [Int: (state: String, attempts: Int)] = [:]
        var sendsByFile: [Int: Int] = [:]
        var sends = 0
        var opensDone = 0
        var commits = 0
        var associationUsable = true
        var ending: Machine.Ending?
        var putBack: [Int] = []

        init(_ configuration: Machine.Configuration, work: [(plan: Int, files: [Int])]) {
            machine = Machine(configuration)
            self.work = work
        }

        func outcome(_ answer: Answer, file: Int) -> StoreOutcome {
            switch answer {
            case .status(let code):
                StoreOutcome(path: "\(file).dcm", sopInstanceUID: "1.2.\(file)", status: DIMSEStatus(code))
            case .lost:
                StoreOutcome(
                    path: "\(file).dcm", sopInstanceUID: "1.2.\(file)", error: ServiceError(.association, "reset"))
            case .unsendable(let failure):
                StoreOutcome(path: "\(file).dcm", sopInstanceUID: "1.2.\(file)", error: ServiceError(failure, "no"))
            }
        }

        mutating func run() {
            var events: [Machine.Event] = [.start]
            var steps = 0
            while !machine.isFinished {
                steps += 1
                guard steps < 10_000 else {
                    Issue.record("the machine did not finish")
                    return
                }
                var actions: [Action] = []
                if let n = stopAfterSends, sends >= n, ending == nil {
                    stopAfterSends = nil
                    actions += machine.handle(.stopRequested)
                }
                for e in events { actions += machine.handle(e) }
                events = []
                guard !actions.isEmpty else {
                    Issue.record("the machine stalled after \(trace.suffix(4))")
                    return
                }
                trace += actions
                // Journal entries of this batch commit together (before the batch's sends see
                // their answers, as SendLoop's concurrent commit ends before it feeds events).
                let journalActions = actions.filter {
                    switch $0 {
                    case .mark, .unmark, .record: true
                    default: false
                    }
                }
                var marked: [Machine.Event] = []
                if !journalActions.isEmpty {
                    commits += 1
                    if commits == failingCommit {
                        events.append(.journalFailed(ServiceError(.journal, "disk full")))
                    } else {
                        for a in journalActions {
                            switch a {
                            case .mark(let f):
                                let n = (journal[f]?.attempts ?? 0) + 1
                                journal[f] = ("sending", n)
                                marked.append(.marked(f, attempts: n))
                            case .unmark(let f):
                                #expect(journal[f]?.state == "sending", "unmark of \(f) not sending")
                                journal[f] = ("planned", (journal[f]?.attempts ?? 1) - 1)
                            case .record(let f, let d):
                                let state =
                                    switch d {
                                    case .stored(let w): w ? "done_warning" : "done"
                                    case .failed: "failed"
                                    case .retry, .setAside: "planned"
                                    }
                                journal[f] = (state, journal[f]?.attempts ?? 0)
                            default: break
                            }
                        }
                    }
                }
                events += marked
                // Requests of one batch are all on the wire before a loss is seen.
                let usableAtStart = associationUsable
                for a in actions {
                    switch a {
                    case .send(let f):
                        // The checkpoint protocol: committed `sending` before the request.
                        #expect(
                            journal[f]?.state == "sending", "file \(f) sent while \(journal[f]?.state ?? "unmarked")")
                        // (With a window, a request may follow a loss the machine has not seen yet.)
                        if machine.configuration.window == 1 {
                            #expect(usableAtStart, "file \(f) sent on a dead association")
                        }
                        sends += 1
                        sendsByFile[f, default: 0] += 1
                        let n = sendsByFile[f, default: 1] - 1
                        var answer = answers[f].flatMap { $0.indices.contains(n) ? $0[n] : nil } ?? .status(0x0000)
                        if !associationUsable { answer = .lost }
                        if case .lost = answer { associationUsable = false }
                        events.append(.completed(f, outcome(answer, file: f), associationUsable: associationUsable))
                    case .takeWork:
                        if work.isEmpty {
                            events.append(.noWork)
                        } else {
                            let w = work.removeFirst()
                            events.append(.work(plan: w.plan, files: w.files))
                        }
                    case .open:
                        let ok = opens.indices.contains(opensDone) ? opens[opensDone] : true
                        opensDone += 1
                        if ok { associationUsable = true }
                        events.append(
                            ok ? .opened(window: .max) : .openFailed(ServiceError(.unreachable, "connection refused")))
                    case .backOff:
                        events.append(.backOffElapsed)
                    case .consultDestination:
                        events.append(.throttled(throttles.isEmpty ? .wait : throttles.removeFirst()))
                    case .close:
                        associationUsable = false
                    case .putBack(_, let files):
                        putBack += files
                    case .finish(let e):
                        ending = e
                    case .failUnsent(let files, _):
                        for f in files { journal[f] = ("failed", 0) }
                    case .mark, .unmark, .record:
                        break
                    }
                }
            }
        }

        func state(_ f: Int) -> String? { journal[f]?.state }
        var opensRequested: Int { trace.filter { if case .open = $0 { true } else { false } }.count }
        var closes: [Machine.Close] { trace.compactMap { if case .close(let c) = $0 { c } else { nil } } }
        var backOffs: [Double] { trace.compactMap { if case .backOff(let s) = $0 { s } else { nil } } }
    }

    let pipeline = Machine.Configuration(policy: .pipeline(maxAttempts: 3), backoff: 1)
    let storescu = Machine.Configuration(policy: .dcmtk(halt: true))

    // MARK: The checkpoint protocol

    /// The first file is marked with the one after it; each later request travels while the
    /// previous outcome and the next mark commit together.
    @Test func marksOneAheadAndRecordsBehind() {
        var machine = Machine(pipeline)
        #expect(machine.handle(.start) == [.takeWork(preferring: nil)])
        #expect(machine.handle(.work(plan: 0, files: [10, 11, 12])) == [.open(plan: 0)])
        #expect(machine.handle(.opened(window: 1)) == [.mark(10), .mark(11)])
        #expect(machine.handle(.marked(10, attempts: 1)) == [.send(10)])
        #expect(machine.handle(.marked(11, attempts: 1)) == [])
        let ok = StoreOutcome(path: "a", sopInstanceUID: "1", status: DIMSEStatus(0x0000))
        #expect(
            machine.handle(.completed(10, ok, associationUsable: true)) == [
                .record(10, .stored(warning: false)), .send(11), .mark(12),
            ])
        #expect(machine.handle(.marked(12, attempts: 1)) == [])
        #expect(
            machine.handle(.completed(11, ok, associationUsable: true)) == [
                .record(11, .stored(warning: false)), .send(12),
            ])
        #expect(
            machine.handle(.completed(12, ok, associationUsable: true)) == [
                .record(12, .stored(warning: false)), .takeWork(preferring: 0),
            ])
        #expect(machine.handle(.noWork) == [.close(.release), .finish(.done)])
        #expect(machine.isFinished)
    }

    @Test func everyFileIsStoredOnOneAssociationPerPlan() {
        var sim = Simulation(pipeline, work: [(0, [0, 1, 2]), (0, [3, 4]), (1, [5])])
        sim.answers = [1: [.status(0x0001)], 3: [.status(0xB000)]]
        sim.run()
        #expect(sim.ending == .done)
        #expect((0...5).map(sim.state) == ["done", "done_warning", "done", "done_warning", "done", "done"])
        // Plan 0's two studies share an association; plan 1 needs its own.
        #expect(sim.opensRequested == 2)
        #expect(sim.closes == [.release, .release])
    }

    // MARK: One test per rule of the retry policy

    @Test func outOfResourcesBacksOffThenSendsTheFileAgainOnTheSameAssociation() {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.status(0xA700), .status(0xA702)]]
        sim.run()
        #expect(sim.ending == .done)
        #expect(sim.state(0) == "done" && sim.journal[0]?.attempts == 3)
        #expect(sim.backOffs == [1, 2], "the wait doubles")
        #expect(sim.opensRequested == 1)
    }

    @Test func outOfResourcesWithOtherAssociationsRetiresThisOne() {
        var sim = Simulation(pipeline, work: [(0, [0, 1, 2])])
        sim.answers = [0: [.status(0xA700)]]
        sim.throttles = [.retire]
        sim.run()
        #expect(sim.ending == .retired)
        #expect(sim.putBack == [0, 1, 2])
        #expect(sim.state(0) == "planned" && sim.state(1) == "planned", "the file marked ahead is unmarked")
        #expect(sim.journal[1]?.attempts == 0)
    }

    @Test func outOfResourcesTooOftenPausesTheDestination() {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.status(0xA700)]]
        sim.throttles = [.pause(ServiceError(.refused, "full"))]
        sim.run()
        #expect(sim.ending == .paused(ServiceError(.refused, "full")))
        #expect(sim.putBack == [0, 1] && sim.state(0) == "planned")
    }

    @Test func cannotUnderstandIsSentOnceMoreOnANewAssociation() {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.status(0xC000), .status(0xC001)], 1: [.status(0xC000)]]
        sim.run()
        #expect(sim.state(0) == "failed" && sim.journal[0]?.attempts == 2)
        #expect(sim.state(1) == "done" && sim.journal[1]?.attempts == 2)
        #expect(sim.opensRequested == 3)
    }

    @Test func anUnknownOutcomeIsRetriedOnANewAssociationUntilTheAttemptsAreSpent() {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.lost, .lost, .lost]]
        sim.run()
        #expect(sim.ending == .done)
        #expect(sim.state(0) == "failed" && sim.journal[0]?.attempts == 3)
        #expect(sim.state(1) == "done")
        #expect(sim.opensRequested == 4, "three lost associations, then one for the next file")
    }

    @Test(arguments: [UInt16(0xA900), 0x0122, 0x0211, 0xFE00])
    func anotherFailureFailsTheFileAndTheRunGoesOn(code: UInt16) {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.status(code)]]
        sim.run()
        #expect(sim.state(0) == "failed" && sim.journal[0]?.attempts == 1 && sim.state(1) == "done")
        #expect(sim.opensRequested == 1)
    }

    @Test(arguments: [ServiceError.Code.noContext, .unreadableFile, .preparation])
    func anUnsendableFileFailsAtOnce(failure: ServiceError.Code) {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.answers = [0: [.unsendable(failure)]]
        sim.run()
        #expect(sim.state(0) == "failed" && sim.journal[0]?.attempts == 1 && sim.state(1) == "done")
    }

    @Test func anUnreachableDestinationIsTriedMaxAttemptsTimesThenPaused() {
        var sim = Simulation(pipeline, work: [(0, [0, 1])])
        sim.opens = [false, false, false]
        sim.run()
        #expect(sim.ending == .paused(ServiceError(.unreachable, "connection refused")))
        #expect(sim.backOffs == [1, 2], "the wait grows with each failed open")
        #expect(sim.putBack == [0, 1] && sim.journal.isEmpty, "nothing was marked")
    }

    @Test func aDestinationReachableOnTheLastAttemptGetsItsFiles() {
        var sim = Simulation(pipeline, work: [(0, [0])])
        sim.opens = [false, false, true]
        sim.run()
        #expect(sim.ending == .done && sim.state(0) == "done")
    }

    // MARK: DCMTK storescu's rules

    @Test func storescuHaltsAtAStoreWithoutAStatus() {
        var sim = Simulation(storescu, work: [(0, [0, 1, 2]), (1, [3])])
        sim.answers = [1: [.lost]]
        sim.run()
        #expect(sim.ending == .halted)
        #expect(sim.state(0) == "done" && sim.state(1) == "failed")
        #expect(sim.sendsByFile[2] == nil && sim.sendsByFile[3] == nil)
        #expect(sim.closes == [.abort])
    }

    @Test func storescuWithNoHaltGoesOnOnANewAssociation() {
        var sim = Simulation(
            Machine.Configuration(policy: .dcmtk(halt: false)), work: [(0, [0, 1, 2])])
        sim.answers = [1: [.lost]]
        sim.run()
        #expect(sim.ending == .done)
        #expect([0, 1, 2].map(sim.state) == ["done", "failed", "done"])
        #expect(sim.journal[1]?.attempts == 1, "never retried")
        #expect(sim.opensRequested == 2)
    }

    @Test func storescuFailsAStatusAndGoesOnEvenWhenHalting() {
        var sim = Simulation(storescu, work: [(0, [0, 1])])
        sim.answers = [0: [.status(0xA700)]]
        sim.run()
        #expect(sim.ending == .done && sim.state(0) == "failed" && sim.state(1) == "done")
        #expect(sim.backOffs.isEmpty)
    }

    @Test func storescuFailsThePlansFilesWhenNoAssociationOpens() {
        var halting = Simulation(storescu, work: [(0, [0, 1]), (1, [2])])
        halting.opens = [false]
        halting.run()
        #expect(halting.ending == .halted)
        #expect(halting.state(0) == "failed" && halting.state(1) == "failed" && halting.state(2) == nil)

        var going = Simulation(Machine.Configuration(policy: .dcmtk(halt: false)), work: [(0, [0, 1]), (1, [2])])
        going.opens = [false]
        going.run()
        #expect(going.ending == .done)
        #expect([0, 1, 2].map(going.state) == ["failed", "failed", "done"])
    }

    @Test func storescuAbortsInsteadOfReleasingWhenAsked() {
        var sim = Simulation(Machine.Configuration(policy: .dcmtk(halt: true), close: .abort), work: [(0, [0])])
        sim.run()
        #expect(sim.closes == [.abort] && sim.state(0) == "done")
    }

    // MARK: Stops and the journal

    @Test func aStopFinishesTheStoreInFlightAndPutsTheRestBack() {
        var sim = Simulation(pipeline, work: [(0, [0, 1, 2, 3])])
        sim.stopAfterSends = 2
        sim.run()
        #expect(sim.ending == .stopped)
        #expect(sim.state(0) == "done" && sim.state(1) == "done")
        #expect(sim.state(2) == "planned" && sim.journal[2]?.attempts == 0, "marked ahead, then unmarked")
        #expect(sim.putBack == [2, 3])
        #expect(sim.closes == [.release])
    }

    @Test func aStopEndsABackOff() {
        var machine = Machine(pipeline)
        _ = machine.handle(.start)
        _ = machine.handle(.work(plan: 0, files: [0]))
        _ = machine.handle(.openFailed(ServiceError(.unreachable, "refused")))
        #expect(machine.handle(.stopRequested) == [.putBack(plan: 0, [0]), .finish(.stopped)])
    }

    @Test func aJournalThatCannotBeWrittenStopsTheSending() {
        var sim = Simulation(pipeline, work: [(0, [0, 1, 2, 3])])
        sim.failingCommit = 3
        sim.run()
        guard case .paused(let reason) = sim.ending else {
            Issue.record("ending \(String(describing: sim.ending))")
            return
        }
        #expect(reason.code == .journal && reason.message.contains("disk full"))
        #expect(sim.sendsByFile[3] == nil, "nothing is sent after the failed commit")
        #expect(sim.putBack.contains(3))
    }

    // MARK: Several stores in flight (an Asynchronous Operations Window)

    @Test func aWindowKeepsThatManyStoresInFlight() {
        var machine = Machine(Machine.Configuration(policy: .pipeline(maxAttempts: 3), window: 2))
        _ = machine.handle(.start)
        _ = machine.handle(.work(plan: 0, files: [0, 1, 2, 3]))
        #expect(machine.handle(.opened(window: 16)) == [.mark(0), .mark(1), .mark(2)])
        #expect(machine.handle(.marked(0, attempts: 1)) == [.send(0)])
        #expect(machine.handle(.marked(1, attempts: 1)) == [.send(1)])
        #expect(machine.handle(.marked(2, attempts: 1)) == [])
        let ok = StoreOutcome(path: "a", sopInstanceUID: "1", status: DIMSEStatus(0x0000))
        // Responses may come in any order; each frees a place in the window.
        #expect(
            machine.handle(.completed(1, ok, associationUsable: true)) == [
                .record(1, .stored(warning: false)), .send(2), .mark(3),
            ])
        #expect(machine.handle(.completed(0, ok, associationUsable: true)) == [.record(0, .stored(warning: false))])
    }

    /// A peer that does not negotiate the window gets one store at a time, whatever the
    /// configured window.
    @Test func aPeerWithoutAWindowGetsOneStoreAtATime() {
        var machine = Machine(Machine.Configuration(policy: .pipeline(maxAttempts: 3), window: 16))
        _ = machine.handle(.start)
        _ = machine.handle(.work(plan: 0, files: [0, 1, 2]))
        #expect(machine.handle(.opened(window: 1)) == [.mark(0), .mark(1)])
        #expect(machine.handle(.marked(0, attempts: 1)) == [.send(0)])
        #expect(machine.handle(.marked(1, attempts: 1)) == [])
    }

    @Test func aLostAssociationWithAWindowReplacesItOnceItsStoresHaveEnded() {
        var sim = Simulation(
            Machine.Configuration(policy: .pipeline(maxAttempts: 3), window: 3), work: [(0, [0, 1, 2, 3, 4])])
        sim.answers = [1: [.lost]]
        sim.run()
        #expect(sim.ending == .done)
        #expect((0...4).allSatisfy { sim.state($0) == "done" })
        #expect(sim.opensRequested == 2)
    }

    // MARK: The pool's gate

    @Test func theGateRetiresAssociationsThenPausesTheDestination() {
        var gate = DestinationGate(maxAttempts: 3, associations: 2)
        gate.join()
        gate.join()
        #expect(gate.outOfResources(attempts: 1, status: "A700") == .retire)
        #expect(gate.active == 1)
        #expect(gate.outOfResources(attempts: 1, status: "A700") == .wait, "the last association waits")
        gate.stored()
        #expect(gate.consecutiveOutOfResources == 0)
        for _ in 0..<5 { _ = gate.outOfResources(attempts: 1, status: "A700") }
        #expect(
            gate.outOfResources(attempts: 1, status: "A700")
                == .pause(
                    ServiceError(.refused, "the destination keeps answering out of resources (A700)")))
        #expect(gate.paused != nil)
    }

    @Test func theGatePausesAtAFilesLastAttempt() {
        var gate = DestinationGate(maxAttempts: 2, associations: 1)
        gate.join()
        #expect(gate.outOfResources(attempts: 2, status: "A700") != .wait)
    }

    @Test func theGateSurvivesHugeAttemptLimits() {
        var gate = DestinationGate(maxAttempts: Int.max, associations: 8)
        gate.join()
        #expect(gate.outOfResources(attempts: 1, status: "A700") == .wait)
    }
}
