import Foundation
import Testing

/// Where tests keep their temporary files: one folder per test (per test case of a
/// parameterized test), removed when the test ends, pass or fail, inside one folder per test
/// process, removed when the process exits. So a full run leaves nothing in the system's
/// temporary folder, and `scripts/test` checks that it does not.
public enum Scratch {
    /// The process's folder: `$TMPDIR/ferry-tests-PID`.
    public static let processRoot: String = {
        let path = NSTemporaryDirectory() + "ferry-tests-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: Scratch.processRoot) }
        return path
    }()

    /// The scratch folder of the test running in this task (the process's folder outside a test).
    @TaskLocal public static var folder: String?

    public static var current: String { folder ?? processRoot }

    static func withFolder<R>(_ body: () async throws -> R) async throws -> R {
        let path = current + "/t-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await $folder.withValue(path) { try await body() }
    }
}

/// `.scratch` on a suite gives each of its tests a scratch folder (`Corpus.temporaryDirectory`
/// creates its directories there) that is removed when the test ends.
public struct ScratchTrait: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await Scratch.withFolder { try await function() }
    }
}

extension Trait where Self == ScratchTrait {
    public static var scratch: Self { ScratchTrait() }
}
