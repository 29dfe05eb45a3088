import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc

/// Scans the job's sources (header only, in parallel) and brings the manifest up to date:
/// new files and files whose size or mtime changed are (re)planned, unchanged ones are left
/// alone, unreadable ones are failed with the reason, duplicates of one SOP Instance UID are
/// resolved by the job's conflict policy.
public struct Planner: Sendable {
    public let job: Job
    public let manifest: Manifest

    public init(job: Job, manifest: Manifest) {
        self.job = job
        self.manifest = manifest
    }

    public struct ScanResult: Sendable {
        public var seen = 0
        public var added = 0
        public var changed = 0
        public var unchanged = 0
        public var unreadable = 0
        public var conflicts = 0
        /// Directories and links under the sources that could not be read: their files, if
        /// any, are not in the plan (the caller reports them; a later plan picks them up).
        public var unlisted: [DICOMError] = []
    }

    /// Scans and plans on the BlockingPool (directory walks, header reads, manifest writes).
    public func scan(since: Double? = nil) async throws -> ScanResult {
        try await BlockingPool.shared.run { try self.scanBlocking(since: since) }
    }

    /// Files found by the walk, planned a batch at a time.
    private struct Candidate {
        var path: String
        var size: Int
        var mtime: Double
    }

    /// How many files are looked up, read and written together: enough to keep every core
    /// reading headers and a transaction's cost small per file, little memory.
    static let batchSize = 2048

    /// Walks the sources and plans what it finds a batch at a time: nothing proportional to the
    /// number of files is held, and an unchanged file (same size and mtime) is decided from
    /// its stat, without opening it.
    private func scanBlocking(since: Double?) throws -> ScanResult {
        var result = ScanResult()
        let include = job.source.include.map(Glob.init)
        let exclude = job.source.exclude.map(Glob.init)
        let walker = DirectoryWalker(
            recursive: job.source.recursive, symlinks: job.source.followSymlinks ? .follow : .skip)
        let roots = job.source.paths.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        var batch: [Candidate] = []
        for (i, base) in roots.enumerated() {
            // A file under two roots (a folder and a file or folder in it) is planned with the first.
            let earlier = roots[..<i]
            try walker.forEachFile(under: [base], onError: { result.unlisted.append($0) }) { path, st in
                if earlier.contains(where: { path == $0 || path.hasPrefix($0 == "/" ? "/" : $0 + "/") }) { return }
                let relative = path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
                if !include.isEmpty && !include.contains(where: { $0.matches(relative) }) { return }
                if exclude.contains(where: { $0.matches(relative) }) { return }
                let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                if let since, mtime < since { return }
                batch.append(Candidate(path: path, size: Int(st.st_size), mtime: mtime))
                if batch.count == Self.batchSize {
                    try plan(batch, into: &result)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }
        try plan(batch, into: &result)
        if result.added + result.changed > 0 {
            result.conflicts = try manifest.resolveConflicts(job.transfer.conflicts)
        }
        return result
    }

    /// Plans one batch: files new or changed since they were planned are read (in parallel)
    /// and written in one transaction.
    private func plan(_ batch: [Candidate], into result: inout ScanResult) throws {
        guard !batch.isEmpty else { return }
        result.seen += batch.count
        let known = try manifest.knownFiles(batch.map(\.path))
        let toScan = batch.filter { c in
            guard let k = known[c.path] else { return true }
            return k.size != c.size || k.mtime != c.mtime
        }
        result.unchanged += batch.count - toScan.count
        guard !toScan.isEmpty else { return }
        let summaries = ParallelScan.summaries(toScan.map(\.path))
        let stamp = now()
        var records: [(record: InstanceRecord, replaces: Bool)] = []
        records.reserveCapacity(toScan.count)
        for (c, summary) in zip(toScan, summaries) {
            var record = InstanceRecord(
                path: c.path, size: c.size, mtime: c.mtime, dataSetOffset: 0, state: .planned,
                plannedAt: stamp, updatedAt: stamp)
            switch summary {
            case .success(let s):
                record.sopClassUID = s.sopClassUID
                record.sopInstanceUID = s.sopInstanceUID
                record.transferSyntaxUID = s.transferSyntaxUID
                record.patientID = s.patientID
                record.studyInstanceUID = s.studyInstanceUID
                record.seriesInstanceUID = s.seriesInstanceUID
                record.studyDate = s.studyDate
                record.accessionNumber = s.accessionNumber
                record.instanceNumber = s.instanceNumber
                record.dataSetOffset = s.dataSetOffset
                record.pixelDataOffset = s.pixelData?.valueOffset
                record.mustRewrite = s.mustRewrite
                do throws(ServiceError) { _ = try OutgoingFile(s) } catch {
                    record.state = .failed
                    record.error = error.message
                    record.reasonKind = .unreadable
                    result.unreadable += 1
                }
            case .failure(let e):
                record.state = .failed
                record.error = e.detail
                record.reasonKind = .unreadable
                result.unreadable += 1
            }
            let replaces = known[c.path] != nil
            if replaces { result.changed += 1 } else { result.added += 1 }
            records.append((record, replaces))
        }
        try manifest.plan(records)
    }
}

extension InstanceRecord {
    /// The file as the sender sees it; nil when the header lacks what sending needs.
    public var outgoing: OutgoingFile? {
        guard let sop = sopClassUID, let instance = sopInstanceUID, let tsUID = transferSyntaxUID,
            let ts = TransferSyntax.lookup(tsUID)
        else { return nil }
        let pixels = pixelDataOffset.map { PixelDataLocation(elementOffset: $0, valueOffset: $0, length: nil) }
        return OutgoingFile(
            path: path, sopClassUID: sop, sopInstanceUID: instance, transferSyntax: ts,
            dataSetOffset: dataSetOffset, fileSize: size, pixelData: pixels, mustRewrite: mustRewrite)
    }
}
