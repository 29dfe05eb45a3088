import Foundation

/// Synthetic archives made at test time by the repository's own `scripts/make-corpus` (pydicom
/// writes the uncompressed files, DCMTK, GDCM and OpenJPH the compressed ones), cached under
/// `.build/test-corpus/PROFILE` with the reference decodes of every compressed file beside it
/// (`PROFILE.reference/DECODER/...`). A lock file serialises concurrent makers.
public enum Corpus {
    public static let packageRoot: URL = {
        // Tests/TestSupport/Corpus.swift -> package root
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }()

    static let generator = packageRoot.appendingPathComponent("scripts/make-corpus").path
    static let cacheRoot = packageRoot.appendingPathComponent(".build/test-corpus").path

    /// Profiles whose compressed files get reference decodes.
    static let referenced: Set<String> = ["tiny", "small", "stress", "htj2k"]

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The directory holding `profile` (`count` images for ct-series and large-cr), made on first use.
    public static func directory(_ profile: String, count: Int? = nil) throws -> String {
        try FileManager.default.createDirectory(atPath: cacheRoot, withIntermediateDirectories: true)
        let name = count.map { "\(profile)-\($0)" } ?? profile
        let dir = cacheRoot + "/" + name
        let done = dir + "/.complete"
        let lock = open(cacheRoot + "/\(name).lock", O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw Unavailable(description: "cannot open the corpus lock in \(cacheRoot)") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }
        if FileManager.default.fileExists(atPath: done) { return dir }
        try? FileManager.default.removeItem(atPath: dir)
        try? FileManager.default.removeItem(atPath: dir + ".reference")
        var arguments = [generator, dir, "--profile", profile]
        if let count { arguments += ["--count", String(count)] }
        if referenced.contains(profile) { arguments.append("--references") }
        let r = try Tools.run(PeerProcess.python3, arguments)
        guard r.status == 0 else { throw Unavailable(description: "make-corpus \(profile) failed: \(r.stderr)") }
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
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue,
                !p.hasSuffix(".complete")
            {
                out.append(full)
            }
        }
        return out.sorted()
    }

    /// The independent decoders whose output make-corpus keeps beside a corpus.
    public enum ReferenceDecoder: String, Sendable {
        case dcmtk  // dcmdjpeg, dcmdjpls, dcmdrle
        case gdcm  // gdcmconv --raw
        case openjph  // imagecodecs' HTJ2K decoder
    }

    /// `decoder`'s decoding of the corpus file at `path` (explicit VR LE), if it made one.
    public static func reference(of path: String, by decoder: ReferenceDecoder) -> String? {
        let prefix = cacheRoot + "/"
        guard path.hasPrefix(prefix) else { return nil }
        let relative = path.dropFirst(prefix.count)
        guard let slash = relative.firstIndex(of: "/") else { return nil }
        let candidate = prefix + relative[..<slash] + ".reference/" + decoder.rawValue + relative[slash...]
        return FileManager.default.fileExists(atPath: candidate) ? candidate : nil
    }

    /// A fresh directory inside the current test's scratch folder, which `.scratch` removes
    /// when the test ends, pass or fail.
    public static func temporaryDirectory(_ name: String = "ferry-test") throws -> String {
        let path = Scratch.current + "/\(name)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
