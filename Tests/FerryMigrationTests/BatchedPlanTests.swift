import FerryDICOM
import Foundation
import Glibc
import TestSupport
import Testing

@testable import FerryMigration

/// Planning a batch at a time (issue 31): whatever the batch size, every file of the sources is
/// planned once (also under two overlapping roots), a re-plan opens nothing and finds every
/// file unchanged, and a file changed since is planned again.
@Suite(.scratch)
struct BatchedPlanTests {
    @Test(arguments: [1, 3, 2048])
    func everyFileOnceAndAReplanFromStatAlone(batchSize: Int) async throws {
        // A copy of the corpus: its mtimes are changed below.
        let dir = try Corpus.temporaryDirectory("batched")
        let root = dir + "/small"
        try FileManager.default.copyItem(atPath: try Corpus.directory("small"), toPath: root)
        let sources = DirectoryWalker().files(under: [root]).sorted()
        let manifest = try Manifest(path: dir + "/m.sqlite", exclusive: false)
        var job = Job(name: "batched")
        // The corpus, and one of its files again: planned with the first root.
        job.source.paths = [root, sources[1]]
        var planner = Planner(job: job, manifest: manifest)
        planner.batchSize = batchSize
        let first = try await planner.scan()
        #expect(first.seen == sources.count)
        #expect(first.added == sources.count)
        #expect(Set(try manifest.instances().map(\.path)) == Set(sources))

        // Garbage of the same size and mtime: the re-plan does not open the file to find out.
        let garbled = sources[2]
        var st = stat()
        #expect(stat(garbled, &st) == 0)
        try Data(repeating: 0x5A, count: Int(st.st_size)).write(to: URL(fileURLWithPath: garbled))
        let times = [st.st_atim, st.st_mtim]
        #expect(utimensat(AT_FDCWD, garbled, times, 0) == 0)
        let again = try await planner.scan()
        #expect(again.unreadable == 0, "nothing was read")
        #expect(try manifest.instances().first { $0.path == garbled }?.state == .planned)
        #expect(again.unchanged == sources.count)
        #expect(again.added == 0 && again.changed == 0)

        // A new mtime: planned again, the rest left alone.
        let touched = sources[sources.count / 2]
        let later = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: later], ofItemAtPath: touched)
        let third = try await planner.scan()
        #expect(third.changed == 1)
        #expect(third.unchanged == sources.count - 1)
        #expect(try manifest.instances().count == sources.count)
    }
}

/// Two roots, one inside the other: a file is skipped under the second only when the first's
/// walk listed it (not when that walk was not recursive, or did not follow a link).
@Suite(.scratch)
struct OverlappingRootsTests {
    /// `dir` with two files, `dir/sub` with two, and `dir/link` -> `elsewhere` with two.
    func tree() throws -> (dir: String, count: Int) {
        let files = try Corpus.files("small")
        let base = try Corpus.temporaryDirectory("roots")
        let dir = base + "/dir"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/elsewhere", withIntermediateDirectories: true)
        for (i, f) in files.prefix(6).enumerated() {
            let folder = [dir, dir + "/sub", base + "/elsewhere"][i / 2]
            try fm.copyItem(atPath: f, toPath: folder + "/f\(i).dcm")
        }
        try fm.createSymbolicLink(atPath: dir + "/link", withDestinationPath: base + "/elsewhere")
        return (dir, 6)
    }

    func plan(_ roots: [String], recursive: Bool) async throws -> [String] {
        let manifest = try Manifest(path: try Corpus.temporaryDirectory("m") + "/m.sqlite", exclusive: false)
        var job = Job(name: "roots")
        job.source.paths = roots
        job.source.recursive = recursive
        _ = try await Planner(job: job, manifest: manifest).scan()
        return try manifest.instances().map(\.path)
    }

    @Test func aRootInsideANonRecursiveRootIsPlanned() async throws {
        let (dir, _) = try tree()
        let paths = try await plan([dir, dir + "/sub"], recursive: false)
        #expect(paths.filter { $0.hasPrefix(dir + "/sub/") }.count == 2, "\(paths)")
        #expect(paths.count == 4, "the top folder's two and the sub folder's two, once each")
    }

    @Test func aLinkedRootInsideARootThatSkipsLinksIsPlanned() async throws {
        let (dir, _) = try tree()
        let paths = try await plan([dir, dir + "/link"], recursive: true)
        #expect(paths.filter { $0.hasPrefix(dir + "/link/") }.count == 2, "\(paths)")
        #expect(paths.count == 6)
    }

    @Test func aRootInsideARecursiveRootIsPlannedOnce() async throws {
        let (dir, _) = try tree()
        let paths = try await plan([dir, dir + "/sub", dir + "/sub/f2.dcm"], recursive: true)
        #expect(paths.count == 4, "the link is skipped; the sub folder's files once: \(paths)")
        #expect(Set(paths).count == paths.count)
    }
}
