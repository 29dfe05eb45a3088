import FerryDICOM
import FerryNetwork
import Synchronization
import Testing

@testable import FerryServices

/// The send loop itself, on scripted associations (no sockets): windows, responses in any
/// order, an abort with stores in flight, a stop mid-window, a peer that grants no window.
@Suite struct SendLoopTests {
    @Test func aWindowOf16AnsweredInReverseOrder() async {
        let channel = ScriptedChannel(window: 16, answer: .reversedWhenWaited)
        let sender = ScriptedSender(files: 16, channels: [channel])
        let ending = await SendLoop.run(sender, configuration: .init(policy: .pipeline(maxAttempts: 3), window: 16))
        #expect(ending == .done)
        #expect(channel.mostInFlight == 16, "all 16 stores begun before the first response")
        #expect(channel.answered == Array((1...16).reversed()), "responses came last first")
        // Each file completed with the response to its own request.
        #expect(sender.recorded.map(\.file).sorted() == Array(0..<16))
        for r in sender.recorded {
            #expect(r.disposition == .stored(warning: false))
            #expect(r.outcome.status == .success && r.outcome.errorComment == "answer to \(r.outcome.sopInstanceUID)")
        }
    }

    @Test func anAbortWith5InFlightSetsEachAsideForTheResendCheck() async {
        let dying = ScriptedChannel(window: 5, answer: .abortWhenWaited)
        let next = ScriptedChannel(window: 5, answer: .inOrder)
        let sender = ScriptedSender(files: 10, channels: [dying, next])
        let policy = RetryPolicy.pipeline(maxAttempts: 3, checkBeforeResend: true)
        let ending = await SendLoop.run(sender, configuration: .init(policy: policy, window: 5, backoff: 0))
        #expect(ending == .done)
        #expect(dying.mostInFlight == 5 && !dying.isUsable)
        let setAside = sender.recorded.filter { $0.disposition == .setAside }
        #expect(setAside.map(\.file).sorted() == [0, 1, 2, 3, 4], "the five in flight, each set aside")
        #expect(setAside.allSatisfy { $0.outcome.error?.code == .association && $0.outcome.status == nil })
        #expect(
            sender.recorded.filter { $0.disposition == .stored(warning: false) }.map(\.file).sorted() == [
                5, 6, 7, 8, 9,
            ],
            "the rest stored on a new association")
        // Every file marked `sending` before its request; the one marked ahead when the
        // association died was unmarked, then marked again on the next.
        #expect(Set(sender.journal.marks) == Set(0..<10))
        #expect(sender.journal.marks.count - sender.journal.unmarks.count == 10)
    }

    @Test func aStopMidWindowFinishesTheStoresInFlightAndPutsTheRestBack() async {
        let channel = ScriptedChannel(window: 16, answer: .inOrder)
        let sender = ScriptedSender(files: 40, channels: [channel], stopAfterBegun: 10)
        let ending = await SendLoop.run(sender, configuration: .init(policy: .pipeline(maxAttempts: 3), window: 16))
        #expect(ending == .stopped)
        let begun = channel.begun.count
        #expect(begun >= 10 && begun < 40)
        #expect(channel.answered.count == begun, "every store begun was answered before the end")
        #expect(sender.recorded.map(\.file).sorted() == Array(0..<begun))
        #expect(sender.putBack.sorted() == Array(begun..<40), "the rest went back to the queue")
        #expect(sender.journal.unmarks.allSatisfy { $0 >= begun }, "only files never sent are unmarked")
    }

    @Test func aPeerGrantingNoWindowGetsOneStoreAtATime() async {
        let channel = ScriptedChannel(window: 1, answer: .inOrder)
        let sender = ScriptedSender(files: 12, channels: [channel])
        let ending = await SendLoop.run(sender, configuration: .init(policy: .pipeline(maxAttempts: 3), window: 16))
        #expect(ending == .done)
        #expect(channel.mostInFlight == 1)
        #expect(sender.recorded.count == 12 && sender.recorded.allSatisfy { $0.disposition == .stored(warning: false) })
    }

    @Test func aResponseToNoStoreInFlightEndsTheAssociation() async {
        let channel = ScriptedChannel(window: 4, answer: .unknownMessageID)
        let next = ScriptedChannel(window: 4, answer: .inOrder)
        let sender = ScriptedSender(files: 4, channels: [channel, next])
        let policy = RetryPolicy.pipeline(maxAttempts: 3, checkBeforeResend: true)
        _ = await SendLoop.run(sender, configuration: .init(policy: policy, window: 4, backoff: 0))
        #expect(channel.aborted)
        #expect(sender.recorded.filter { $0.disposition == .setAside }.count == 4)
    }
}

/// An association that records the stores written to it and answers them as scripted.
final class ScriptedChannel: StoreChannel {
    enum Answer {
        /// Each in the order of its request, as soon as asked.
        case inOrder
        /// Nothing until the loop waits; then every store in flight, last first.
        case reversedWhenWaited
        /// When the loop waits, the peer aborts.
        case abortWhenWaited
        /// A response to a message ID never sent.
        case unknownMessageID
    }

    let invokeWindow: Int
    let answer: Answer
    private(set) var isUsable = true
    private(set) var aborted = false
    private(set) var begun: [(messageID: UInt16, instance: String)] = []
    private(set) var answered: [UInt16] = []
    private(set) var mostInFlight = 0
    private var inFlight: [(messageID: UInt16, instance: String)] = []
    private var arrived: [CommandSet] = []
    private var nextID: UInt16 = 1

    init(window: Int, answer: Answer) {
        invokeWindow = window
        self.answer = answer
    }

    func write(instance: String) -> UInt16 {
        defer { nextID += 1 }
        begun.append((nextID, instance))
        inFlight.append((nextID, instance))
        mostInFlight = max(mostInFlight, inFlight.count)
        if answer == .inOrder { arrived.append(response(to: inFlight.removeFirst())) }
        return nextID
    }

    func hasArrived() async throws -> Bool { !arrived.isEmpty }

    func nextStoreResponse() async throws -> CommandSet {
        if arrived.isEmpty {
            switch answer {
            case .reversedWhenWaited:
                arrived = inFlight.reversed().map(response(to:))
                inFlight = []
            case .abortWhenWaited:
                isUsable = false
                throw AssociationError.abortedByPeer(AbortPDU(source: 0, reason: 0))
            case .unknownMessageID:
                return .storeRSP(respondingTo: 999, sopClass: "1.2.3", sopInstance: "1.2.3.999", status: .success)
            case .inOrder:
                break
            }
        }
        guard !arrived.isEmpty else { throw AssociationError.timeout("nothing in flight") }
        let next = arrived.removeFirst()
        answered.append(next.messageIDBeingRespondedTo ?? 0)
        return next
    }

    func abort() async {
        isUsable = false
        aborted = true
    }

    private func response(to store: (messageID: UInt16, instance: String)) -> CommandSet {
        .storeRSP(
            respondingTo: store.messageID, sopClass: "1.2.3", sopInstance: store.instance, status: .success,
            errorComment: "answer to \(store.instance)")
    }
}

/// The loop's delegate over scripted channels: files 0..<n, instance UIDs 1.2.3.N.
final class ScriptedSender: SendLoopDelegate {
    struct Record {
        let file: Int
        let outcome: StoreOutcome
        let disposition: SendStateMachine.Disposition
    }
    let journal = RecordingJournal()
    let files: Int
    private var channels: [ScriptedChannel]
    private let stopAfterBegun: Int?
    private var given = false
    private var begunCount = 0
    private(set) var recorded: [Record] = []
    private(set) var putBack: [Int] = []

    init(files: Int, channels: [ScriptedChannel], stopAfterBegun: Int? = nil) {
        self.files = files
        self.channels = channels
        self.stopAfterBegun = stopAfterBegun
    }

    var stopRequested: Bool { stopAfterBegun.map { begunCount >= $0 } ?? false }

    func takeWork(preferring plan: Int?) async -> (plan: Int, files: [Int])? {
        guard !given else { return nil }
        given = true
        return (0, Array(0..<files))
    }

    func putBack(plan: Int, files: [Int]) async { putBack += files }

    func open(plan: Int) async throws -> (association: ScriptedChannel, id: Int) {
        guard !channels.isEmpty else { throw AssociationError.timeout("no more scripted associations") }
        return (channels.removeFirst(), 1)
    }

    func begin(
        _ file: Int, upcoming: ArraySlice<Int>, on association: ScriptedChannel
    ) async -> (outcome: StoreOutcome, messageID: UInt16?) {
        begunCount += 1
        let instance = "1.2.3.\(file)"
        return (StoreOutcome(path: "/f\(file)", sopInstanceUID: instance), association.write(instance: instance))
    }

    func complete(_ outcome: StoreOutcome, response: CommandSet) -> StoreOutcome {
        var done = outcome
        done.status = response.status
        done.errorComment = response.errorComment
        return done
    }

    func failed(_ outcome: StoreOutcome, _ error: Error) -> StoreOutcome {
        var done = outcome
        done.error = ServiceError(.association, wrapping: error)
        return done
    }

    func recorded(_ file: Int, _ outcome: StoreOutcome, _ disposition: SendStateMachine.Disposition) async {
        recorded.append(Record(file: file, outcome: outcome, disposition: disposition))
    }

    func failUnsent(_ files: [Int], _ error: ServiceError) {}
    func throttle(attempts: Int, outcome: StoreOutcome) -> SendStateMachine.Throttle { .wait }
    func close(_ association: ScriptedChannel, _ mode: SendStateMachine.Close) async {}
    func journalFailed(_ error: Error) {}
}

/// A journal in memory that keeps what it was asked to commit.
final class RecordingJournal: SendJournal {
    private let state = Mutex<(attempts: [Int: Int], marks: [Int], unmarks: [Int])>(([:], [], []))
    var marks: [Int] { state.withLock { $0.marks } }
    var unmarks: [Int] { state.withLock { $0.unmarks } }

    func commit(_ entries: [JournalEntry], association: Int) async throws -> [Int: Int] {
        state.withLock { state in
            var marked: [Int: Int] = [:]
            for entry in entries {
                switch entry {
                case .mark(let file):
                    state.attempts[file, default: 0] += 1
                    state.marks.append(file)
                    marked[file] = state.attempts[file]
                case .unmark(let file):
                    state.attempts[file, default: 1] -= 1
                    state.unmarks.append(file)
                case .record:
                    break
                }
            }
            return marked
        }
    }
}
