import Dispatch
import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc
import Synchronization

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
    var batchSize = 2048

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
        // The batch whose headers are being read while the walk goes on.
        var reading: (batch: Changed, headers: HeaderRead)?
        func flush() throws {
            let changed = try self.changed(in: batch, into: &result)
            batch.removeAll(keepingCapacity: true)
            let next = changed.files.isEmpty ? nil : (changed, HeaderRead(changed.files.map(\.path)))
            if let (previous, headers) = reading { try record(previous, headers.wait(), into: &result) }
            reading = next
        }
        for (i, base) in roots.enumerated() {
            // A file under two roots (a folder and a file or folder in it) is planned with the
            // first: per file, only the earlier roots whose walk listed what this one lists are
            // asked (one inside this root; one around it whose walk reaches it).
            let earlier = roots[..<i].filter { Self.covers($0, base) || walker.reaches(base, from: $0) }
            try walker.forEachFile(under: [base], onError: { result.unlisted.append($0) }) { path, st in
                if earlier.contains(where: { Self.covers(path, $0) }) { return }
                if !include.isEmpty || !exclude.isEmpty {
                    let relative = path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
                    if !include.isEmpty && !include.contains(where: { $0.matches(relative) }) { return }
                    if exclude.contains(where: { $0.matches(relative) }) { return }
                }
                let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
                if let since, mtime < since { return }
                batch.append(Candidate(path: path, size: Int(st.st_size), mtime: mtime))
                if batch.count == batchSize { try flush() }
            }
        }
        try flush()
        if let (last, headers) = reading { try record(last, headers.wait(), into: &result) }
        // Every time, not only when files were added: a plan killed between its batches, or a
        // new rule, leaves duplicates that a re-plan from stat alone would not see.
        result.conflicts = try manifest.resolveConflicts(job.transfer.conflicts)
        return result
    }

    /// `path` is `root` or lies under it, by name.
    static func covers(_ path: String, _ root: String) -> Bool {
        path == root || path.hasPrefix(root == "/" ? "/" : root + "/")
    }

    /// A batch's files that are new or changed since they were planned (`replaces`: planned
    /// before under the same path).
    private struct Changed {
        var files: [Candidate] = []
        var replaces: [Bool] = []
    }

    /// Counts a walked batch and keeps what must be read: a file whose size and mtime are
    /// those planned is unchanged, decided without opening it.
    private func changed(in batch: [Candidate], into result: inout ScanResult) throws -> Changed {
        guard !batch.isEmpty else { return Changed() }
        result.seen += batch.count
        let known = try manifest.knownFiles(batch.map(\.path))
        var changed = Changed()
        for c in batch {
            if let k = known[c.path], k.size == c.size, k.mtime == c.mtime { continue }
            changed.files.append(c)
            changed.replaces.append(known[c.path] != nil)
        }
        result.unchanged += batch.count - changed.files.count
        return changed
    }

    /// Writes a batch with its headers, in one transaction.
    private func record(
        _ batch: Changed, _ summaries: [Result<HeaderSummary, DICOMError>], into result: inout ScanResult
    ) throws {
        let stamp = now()
        var records: [(record: InstanceRecord, replaces: Bool)] = []
        records.reserveCapacity(batch.files.count)
        for (i, (c, summary)) in zip(batch.files, summaries).enumerated() {
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
            if batch.replaces[i] { result.changed += 1 } else { result.added += 1 }
            records.append((record, batch.replaces[i]))
        }
        try manifest.plan(records)
    }
}

/// The headers of a batch of files, read on every core in the background (while the walk
/// finds the next batch and the previous one is written).
private final class HeaderRead: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let summaries = Mutex<[Result<HeaderSummary, DICOMError>]>([])

    init(_ paths: [String]) {
        DispatchQueue.global().async { [self] in
            let read = ParallelScan.summaries(paths)
            summaries.withLock { $0 = read }
            done.signal()
        }
    }

    func wait() -> [Result<HeaderSummary, DICOMError>] {
        done.wait()
        return summaries.withLock { $0 }
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
