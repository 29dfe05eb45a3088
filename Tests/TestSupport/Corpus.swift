import Foundation

/// Synthetic archives made at test time by `shared/corpus/make-corpus` (pydicom + DCMTK + GDCM
/// encoders), cached under `.build/test-corpus/PROFILE`; a lock file serialises concurrent makers.
public enum Corpus {
    public static let packageRoot: URL = {
        // Tests/TestSupport/Corpus.swift -> package root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    public static var makeCorpusTool: String {
        ProcessInfo.processInfo.environment["FERRY_MAKE_CORPUS"]
            ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/make-corpus").path
    }

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The directory holding `profile`, made on first use.
    public static func directory(_ profile: String) throws -> String {
        let root = packageRoot.appendingPathComponent(".build/test-corpus")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let dir = root.appendingPathComponent(profile).path
        let done = dir + "/.complete"
        let lock = open(root.appendingPathComponent("\(profile).lock").path, O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw Unavailable(description: "cannot open corpus lock") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }
        if FileManager.default.fileExists(atPath: done) { return dir }
        guard FileManager.default.isExecutableFile(atPath: makeCorpusTool) else {
            throw Unavailable(description: "make-corpus not found at \(makeCorpusTool) (set FERRY_MAKE_CORPUS)")
        }
        try? FileManager.default.removeItem(atPath: dir)
        let r = try Tools.run("python3", [makeCorpusTool, dir, "--profile", profile])
        guard r.status == 0 else { throw Unavailable(description: "make-corpus failed: \(r.stderr)") }
        _ = FileManager.default.createFile(atPath: done, contents: Data(r.stdout.utf8))
        return dir
    }

    /// The regular files of a profile, sorted, without the completion marker.
    public static func files(_ profile: String) throws -> [String] {
        let dir = try directory(profile)
        let e = FileManager.default.enumerator(atPath: dir)
        var out: [String] = []
        while let p = e?.nextObject() as? String {
            let full = dir + "/" + p
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, !p.hasSuffix(".complete") {
                out.append(full)
            }
        }
        return out.sorted()
    }

    /// A fresh temporary directory, removed by the caller.
    public static func temporaryDirectory(_ name: String = "ferry-test") throws -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
