import FerryServices
import Synchronization

/// The instances of one C-MOVE or C-GET: their row ids (8 bytes an instance), read from the
/// index a page at a time.
final class RetrieveCursor: RetrieveInstances {
    private let ids: [Int64]
    private let index: ArchiveIndex
    private let position = Mutex(0)

    init(ids: [Int64], index: ArchiveIndex) {
        self.ids = ids
        self.index = index
    }

    var count: Int { ids.count }

    func next(limit: Int) throws(ServiceError) -> [StoredInstance]? {
        let start = position.withLock { $0 }
        guard start < ids.count else { return nil }
        let end = min(ids.count, start + max(1, limit))
        position.withLock { $0 = end }
        do { return try index.instances(ids: ids[start..<end]) } catch {
            throw ServiceError(.refused, "the index cannot answer: \(error)", status: .unableToCalculateMatches)
        }
    }
}
