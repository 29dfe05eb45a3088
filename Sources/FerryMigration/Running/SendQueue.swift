import FerryServices
import Synchronization

/// The files of one send pass that are in memory: read from the manifest a page at a time,
/// each under a slot number (the send loop's file), dropped once its outcome is recorded.
/// What the pass holds is bounded by a page and a half, whatever the job's size.
final class PassFiles: Sendable {
    struct Entry: Sendable {
        var row: Int64
        var file: OutgoingFile
        var study: String?
        /// A dead run was decoding it: decoded alone.
        var suspect: Bool
    }

    private let entries = Mutex<[Int: Entry]>([:])
    private let nextSlot = Mutex(0)

    /// Slots for `added`, in order.
    func add(_ added: [Entry]) -> [Int] {
        let first = nextSlot.withLock { n in
            defer { n += added.count }
            return n
        }
        entries.withLock { for (i, e) in added.enumerated() { $0[first + i] = e } }
        return Array(first..<first + added.count)
    }

    subscript(slot: Int) -> Entry? { entries.withLock { $0[slot] } }

    func remove(_ slot: Int) { _ = entries.withLock { $0.removeValue(forKey: slot) } }

    var count: Int { entries.withLock { $0.count } }
}

/// The studies still to send in one pass, per association plan, refilled from the manifest a
/// page at a time (the next page read while the last one is sent). A study's files stay
/// together (a page's last study waits for the next page, see `wholeStudies`), or with
/// `spread` go in pieces to whichever association is free.
actor SendQueue {
    private let manifest: Manifest
    nonisolated let files = PassFiles()
    /// The plan that carries each SOP class.
    private let planOf: [String: Int]
    private let pageSize: Int
    private let spread: Int?
    /// Per plan, studies to send, kept in reverse so taking the next one is a popLast.
    private var plans: [[[Int]]]
    private var queued = 0
    private var position: Int64 = 0
    /// The last study of the page read last: completed by the next page.
    private var carried: [InstanceRecord] = []
    private var exhausted = false
    private var loading: Task<Void, Never>?
    private let onError: @Sendable (Error) -> Void

    /// `spread`: cut studies in pieces for this many associations.
    init(
        manifest: Manifest, plans: [AssociationPlan], kinds: [OutgoingFile], pageSize: Int = 10_000,
        spread: Int?, onError: @escaping @Sendable (Error) -> Void
    ) {
        self.manifest = manifest
        var planOf: [String: Int] = [:]
        for (p, plan) in plans.enumerated() { for f in plan.files { planOf[kinds[f].sopClassUID] = p } }
        self.planOf = planOf
        self.plans = Array(repeating: [], count: plans.count)
        self.pageSize = max(1, pageSize)
        self.spread = spread
        self.onError = onError
    }

    /// The next study: from `preferred` (the plan of the caller's open association) while it
    /// has one, else from the first plan that has one; nil when the pass has nothing left.
    func take(preferring preferred: Int?) async -> (Int, [Int])? {
        while queued == 0 && !exhausted { await refill() }
        if queued < pageSize / 2 && !exhausted && loading == nil {
            loading = Task { await self.load() }
        }
        if let p = preferred, plans.indices.contains(p), let study = plans[p].popLast() {
            queued -= study.count
            return (p, study)
        }
        for p in plans.indices {
            if let study = plans[p].popLast() {
                queued -= study.count
                return (p, study)
            }
        }
        return nil
    }

    /// Files taken but not sent go back to the front of their plan.
    func putBack(_ plan: Int, _ slots: [Int]) {
        plans[plan].append(slots)
        queued += slots.count
    }

    private func refill() async {
        if let loading {
            await loading.value
        } else {
            let task = Task { await self.load() }
            loading = task
            await task.value
        }
    }

    /// Reads the next page and queues its studies (the last one only when the pass ends).
    private func load() async {
        defer { loading = nil }
        let page: [(position: Int64, record: InstanceRecord)]
        do { page = try await manifest.passPage(after: position, limit: pageSize) } catch {
            onError(error)
            exhausted = true
            carried = []
            return
        }
        if let last = page.last { position = last.position }
        if page.count < pageSize { exhausted = true }
        let rows: [InstanceRecord]
        (rows, carried) = wholeStudies(carried + page.map(\.record), last: exhausted) { $0.studyInstanceUID }
        var byPlan = Array(repeating: [PassFiles.Entry](), count: plans.count)
        for r in rows {
            guard let file = r.outgoing, let id = r.id, let p = planOf[file.sopClassUID] else { continue }
            byPlan[p].append(.init(row: id, file: file, study: r.studyInstanceUID, suspect: r.decodeAttempts > 0))
        }
        for (p, entries) in byPlan.enumerated() where !entries.isEmpty {
            let slots = files.add(entries)
            var studies: [[Int]] = []
            var start = 0
            for i in 1...entries.count where i == entries.count || entries[i].study != entries[start].study {
                let study = Array(slots[start..<i])
                studies += spread.map { SendQueue.pieces(study, associations: $0) } ?? [study]
                start = i
            }
            // Queued behind what is there (which goes first), each plan in reverse.
            plans[p] = studies.reversed() + plans[p]
            queued += entries.count
        }
    }

    /// A study cut for `spread`: pieces small enough that every association gets some (four
    /// per association), large enough to keep a window full (at least 32 files).
    static func pieces(_ study: [Int], associations: Int) -> [[Int]] {
        let size = max(32, (study.count + associations * 4 - 1) / max(1, associations * 4))
        return stride(from: 0, to: study.count, by: size).map { Array(study[$0..<min($0 + size, study.count)]) }
    }
}
