import Synchronization

/// The files of one run shared by several `StoreSCU`s, each on an association of its own
/// (a C-MOVE's sub-associations): each takes a few files at a time as it is ready, so a fast
/// association takes more and one the destination never accepts takes none for good.
public final class SharedWork: Sendable {
    /// Files taken at a time: small, so the associations finish together.
    static let batch = 4
    /// Per association plan, the files not taken yet.
    private let queues = Mutex<[Int: [Int]]?>(nil)

    public init() {}

    /// Fills the queues once; the StoreSCUs plan the same files alike, so the first one's
    /// plans serve all.
    func setUp(_ work: () -> [(plan: Int, files: [Int])]) {
        queues.withLock { q in
            if q == nil { q = Dictionary(work().map { ($0.plan, $0.files) }, uniquingKeysWith: +) }
        }
    }

    /// A few files, of `preferred` plan while it has any (the association stays open).
    func take(preferring preferred: Int?) -> (plan: Int, files: [Int])? {
        queues.withLock { q in
            guard var all = q else { return nil }
            let plan =
                preferred.flatMap { all[$0]?.isEmpty == false ? $0 : nil }
                ?? all.keys.sorted().first { all[$0]?.isEmpty == false }
            guard let plan, let files = all[plan] else { return nil }
            let taken = Array(files.prefix(Self.batch))
            all[plan] = Array(files.dropFirst(taken.count))
            q = all
            return (plan, taken)
        }
    }

    func putBack(plan: Int, files: [Int]) {
        queues.withLock { q in q?[plan, default: []].insert(contentsOf: files, at: 0) }
    }

    /// Every file not taken yet, taken at once.
    func drain() -> [Int] {
        queues.withLock { q in
            let all = (q ?? [:]).keys.sorted().flatMap { q?[$0] ?? [] }
            if q != nil { q = q?.mapValues { _ in [] } }
            return all
        }
    }

    public var isEmpty: Bool { queues.withLock { q in q?.values.allSatisfy(\.isEmpty) ?? true } }
}
