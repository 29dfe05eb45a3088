import Dispatch
import FerryDICOM
import FerryServices
import Synchronization

extension Archive {
    /// What indexing a folder in place did.
    public struct IndexingReport: Sendable {
        public var added = 0
        public var duplicates = 0
        public var failures: [(path: String, reason: String)] = []
    }

    /// Indexes the DICOM files under `paths` into the area of `aeTitle` where they are (no
    /// copy): a legacy folder is served by C-FIND, C-MOVE and C-GET as it is. Headers are read
    /// on every core, rows written a thousand per transaction; a file that cannot be indexed
    /// is reported with its reason and skipped.
    public func indexInPlace(_ paths: [String], aeTitle: String) throws -> IndexingReport {
        guard let area = areas[aeTitle] else {
            throw ServiceError(.configuration, "no storage area for \(aeTitle) in the AETable", line: 0)
        }
        var report = IndexingReport()
        let files = DirectoryWalker().files(under: paths) { error in
            report.failures.append((error.path ?? "?", "\(error)"))
        }
        for start in stride(from: 0, to: files.count, by: 1000) {
            let chunk = Array(files[start..<min(start + 1000, files.count)])
            let slots = Mutex<[Result<IndexedInstance, ServiceError>?]>(Array(repeating: nil, count: chunk.count))
            DispatchQueue.concurrentPerform(iterations: chunk.count) { i in
                let result: Result<IndexedInstance, ServiceError>
                do {
                    let (layout, ds, size) = try HeaderScan.header(path: chunk[i])
                    result = .success(
                        try IndexedInstance(
                            dataSet: ds, path: chunk[i], size: size, transferSyntaxUID: layout.transferSyntax.uid))
                } catch let e as ServiceError {
                    result = .failure(e)
                } catch {
                    result = .failure(ServiceError(.unreadableFile, wrapping: error, path: chunk[i]))
                }
                slots.withLock { $0[i] = result }
            }
            var batch: [IndexedInstance] = []
            for (i, r) in slots.withLock({ $0 }).enumerated() {
                switch r {
                case .success(let instance)?: batch.append(instance)
                case .failure(let e)?: report.failures.append((chunk[i], e.message))
                case nil: report.failures.append((chunk[i], "not read"))
                }
            }
            for (instance, addition) in zip(batch, try area.index.add(batch: batch)) {
                switch addition {
                case .added: report.added += 1
                case .contradicts(let reason): report.failures.append((instance.path, reason))
                case .duplicate, .replaced: report.duplicates += 1
                }
            }
        }
        return report
    }
}
