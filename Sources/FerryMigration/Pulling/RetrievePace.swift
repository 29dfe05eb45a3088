import Synchronization

/// How many retrieves a pull runs against its source at once: `max_retrieves`, one fewer each
/// time the source pushes back (A7xx, a transient rejection: moves run in parallel are what
/// PACS refuse first), one more again after every ten studies retrieved whole.
final class RetrievePace: Sendable {
    private struct State {
        var lanes: Int
        var whole = 0
    }
    private let state: Mutex<State>
    let most: Int

    init(most: Int) {
        self.most = max(1, most)
        state = Mutex(State(lanes: self.most))
    }

    var lanes: Int { state.withLock { $0.lanes } }

    func slow() {
        state.withLock {
            $0.lanes = max(1, $0.lanes - 1)
            $0.whole = 0
        }
    }

    func recover() {
        state.withLock {
            $0.whole += 1
            if $0.whole >= 10, $0.lanes < most { ($0.lanes, $0.whole) = ($0.lanes + 1, 0) }
        }
    }
}
