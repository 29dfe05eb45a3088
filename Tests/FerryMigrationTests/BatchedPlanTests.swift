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
