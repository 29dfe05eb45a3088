/// The studies retrieved and not yet sent, handed from a pull's retrieving lanes to its sender;
/// and what staging holds (retrieved or being sent), against `max_staging`: a lane starts no
/// study while it is full.
public actor StagedStudies {
    private var ready = PullRunner.Batch()
    private var staged = 0
    private var finished = false
    private var failure: (any Error)?
    private var taker: CheckedContinuation<Void, Never>?
    private var waitingForRoom: [CheckedContinuation<Void, Never>] = []
    /// A batch is handed on once it holds this many studies (or `batchInstances` instances),
    /// or retrieving waits for room or is over: each send has a fixed cost (its associations),
    /// so batches are not made of one study while the source is slower than the destination.
    private let batchStudies: Int
    /// One request's worth of a large study's pieces: sent while the rest arrives.
    static let batchInstances = StudyRetriever.Selection.listChunk

    public init(batchStudies: Int) { self.batchStudies = max(1, batchStudies) }

    /// A study retrieved, or a piece of one.
    func add(_ study: PullRunner.Batch) {
        ready.studies += study.studies
        ready.paths += study.paths
        ready.instances += study.instances
        ready.bytes += study.bytes
        ready.incomplete += study.incomplete
        staged += study.bytes
        wakeTaker()
    }

    /// Retrieving is over (with its error, if it failed).
    func finish(_ error: (any Error)?) {
        finished = true
        failure = error
        wakeTaker()
        wakeRoom()
    }

    /// The studies retrieved since the last take, waiting for one; nil once retrieving is over
    /// and all were taken. Throws what retrieving failed with.
    public func take() async throws -> PullRunner.Batch? {
        while ready.studies < batchStudies, ready.instances < Self.batchInstances, !finished,
            waitingForRoom.isEmpty || (ready.studies == 0 && ready.instances == 0)
        {
            await withCheckedContinuation { taker = $0 }
        }
        if let failure { throw failure }
        if ready.studies == 0, ready.instances == 0 { return nil }
        defer { ready = PullRunner.Batch() }
        return ready
    }

    /// A batch taken is sent and its files removed: their room is free again.
    public func sent(_ batch: PullRunner.Batch) {
        staged -= batch.bytes
        wakeRoom()
    }

    /// Waits while staging holds `limit` bytes or more (nil: no limit), or until retrieving
    /// is over.
    func waitForRoom(_ limit: Int?) async {
        guard let limit else { return }
        while staged >= limit, !finished {
            wakeTaker()  // what is ready goes now: nothing more comes until room is made
            await withCheckedContinuation { waitingForRoom.append($0) }
        }
    }

    /// The sender gives up: lanes waiting for room go on to their end.
    public func abandon() { finish(CancellationError()) }

    private func wakeTaker() {
        taker?.resume()
        taker = nil
    }

    private func wakeRoom() {
        for waiting in waitingForRoom { waiting.resume() }
        waitingForRoom = []
    }
}
