import FerryDICOM
import FerryMigration
import Foundation
import TestSupport
import Testing

@Suite(.scratch)
struct JobTests {
    @Test func exampleJobsLoadAndValidate() throws {
        let root = Corpus.packageRoot.path
        let impax = try Job.load(path: root + "/jobs/impax-migration.yaml")
        #expect(impax.name == "impax-migration")
        #expect(impax.source.include == ["**/*.dcm", "**/IM*"])
        #expect(impax.destination.calledAE == "NEWPACS")
        #expect(impax.destination.tls?.keyPasswordEnv == "FERRY_KEY_PASSWORD")
        #expect(impax.destination.user?.passwordEnv == "FERRY_PACS_PASSWORD")
        #expect(impax.transfer.maxPDU == 65536)
        #expect(try impax.transfer.transcoding.policy().order.first == .jpegLSLossless)
        try impax.validate()
        let nightly = try Job.load(path: root + "/jobs/nightly.yaml")
        #expect(nightly.transfer.associations == 2)
        #expect(nightly.transfer.maxAttempts == 3, "defaults fill what the file leaves out")
        #expect(nightly.manifestPath == "manifests/nightly.sqlite")
        #expect(try nightly.transfer.transcoding.policy().target == .jpegLSLossless)
    }

    /// The closed settings are typed: each word decodes to its value, and any other word is an
    /// error naming the file and the words allowed.
    @Test(arguments: [
        ("transfer:\n  conflicts: newest\n", "transfer:\n  conflicts: latest\n", "first, newest, none"),
        ("transfer:\n  proposal: big\n", "transfer:\n  proposal: bigendian\n", "uncompressed, little, big"),
        (
            "destination:\n  tls: {verify: if-present}\n", "destination:\n  tls: {verify: sometimes}\n",
            "require, if-present, ignore"
        ),
    ])
    func closedSettingsAreTyped(good: String, bad: String, words: String) throws {
        let dir = try Corpus.temporaryDirectory("job-words")
        func load(_ text: String) throws -> Job {
            try "name: t\nsource:\n  paths: [/x]\n\(text)".write(
                toFile: dir + "/t.yaml", atomically: false, encoding: .utf8)
            return try Job.load(path: dir + "/t.yaml")
        }
        let job = try load(good)
        #expect(job.transfer.conflicts == (good.contains("newest") ? .newest : .first))
        #expect(job.transfer.proposal == (good.contains("big") ? .big : .uncompressed))
        #expect(job.destination.tls?.verify == (good.contains("if-present") ? .ifPresent : nil))
        do {
            _ = try load(bad)
            Issue.record("accepted: \(bad)")
        } catch {
            #expect("\(error)".contains(dir + "/t.yaml") && "\(error)".contains(words), "\(error)")
        }
    }

    /// The transcoding section: names resolve, lossy entries need allow_lossy, unknown names
    /// are a clear error.
    @Test func transcodingSettings() throws {
        let dir = try Corpus.temporaryDirectory("job")
        func load(_ transcoding: String) throws -> Job {
            let path = dir + "/t.yaml"
            try "name: t\nsource:\n  paths: [/x]\ntransfer:\n  transcoding:\n\(transcoding)".write(
                toFile: path, atomically: false, encoding: .utf8)
            return try Job.load(path: path)
        }
        let job = try load(
            "    order: [rle, JPEGLSLossless, 1.2.840.10008.1.2.1]\n    target: jpeg-ls-lossless\n    verify: false\n")
        try job.validate()
        let policy = try job.transfer.transcoding.policy()
        #expect(policy.order == [.rleLossless, .jpegLSLossless, .explicitVRLittleEndian])
        #expect(policy.target == .jpegLSLossless && !policy.verify && !policy.allowLossy)
        let lossy = try load("    target: j2k\n")
        #expect(throws: MigrationError.self) { try lossy.validate() }
        do { try lossy.validate() } catch { #expect("\(error)".contains("allow_lossy")) }
        try (try load("    target: j2k\n    allow_lossy: true\n")).validate()
        let unknown = try load("    order: [jpeg-xl]\n")
        do { try unknown.validate(); Issue.record("jpeg-xl accepted") } catch {
            #expect("\(error)".contains("unknown transfer syntax jpeg-xl"))
        }
        #expect(
            Job(name: "d").transfer.transcoding.order.first == "jpeg-ls-lossless",
            "the default order starts with JPEG-LS lossless")
        #expect(try load("    deflate_level: 1\n").transfer.transcoding.deflateLevel == 1)
        #expect(Job(name: "d").transfer.transcoding.deflateLevel == 6)
        do { try (try load("    deflate_level: 12\n")).validate(); Issue.record("level 12 accepted") } catch {
            #expect("\(error)".contains("deflate_level"))
        }
        #expect(try load("    pixel_budget: 512M\n").transfer.transcoding.policy().pixelBudget == 512 << 20)
        #expect(try load("    verify: true\n").transfer.transcoding.policy().pixelBudget == 2 << 30)
        do { _ = try (try load("    pixel_budget: lots\n")).validate(); Issue.record("budget 'lots' accepted") } catch {
            #expect("\(error)".contains("pixel_budget \"lots\" is not a size"))
        }
    }

    /// Settings whose arithmetic could overflow are bounded (max_attempts near Int.max).
    @Test(arguments: ["max_attempts: 9223372036854775807", "max_attempts: 0", "backoff: 1e300", "backoff: -1"])
    func unboundedSettingsAreRefused(line: String) throws {
        let path = try Corpus.temporaryDirectory("job") + "/t.yaml"
        try "name: t\nsource:\n  paths: [/x]\ntransfer:\n  \(line)\n".write(
            toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Job.load(path: path).validate() }
    }

    @Test(arguments: ["password: hunter2", "key_password: x", "token: abc"])
    func secretsInJobFilesAreRefused(line: String) throws {
        let dir = try Corpus.temporaryDirectory("job")
        let path = dir + "/j.yaml"
        try "name: j\nsource:\n  paths: [/x]\ndestination:\n  user:\n    username: u\n    \(line)\n".write(
            toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Job.load(path: path) }
        do { _ = try Job.load(path: path) } catch {
            #expect("\(error)".contains("secrets do not belong in job files"))
            #expect(!"\(error)".contains("hunter2"))
        }
    }

    @Test(arguments: [
        ("a/b/c.dcm", "**/*.dcm", true), ("c.dcm", "**/*.dcm", true), ("a/b/c.txt", "**/*.dcm", false),
        ("a/tmp/x/y", "**/tmp/**", true), ("IM0001", "IM*", true), ("a/IM0001", "IM*", false),
        ("a/IM0001", "*/IM[0-9]*", true), ("a/IMX", "*/IM[0-9]*", false), ("x/DICOMDIR", "**/DICOMDIR", true),
    ])
    func globs(path: String, pattern: String, expected: Bool) {
        #expect(Glob(pattern).matches(path) == expected)
    }

    @Test func flagsOverrideTheJobFile() throws {
        let dir = try Corpus.temporaryDirectory("job-flags")
        let manifest = dir + "/m.sqlite"
        // Nothing listens on the destination in the file; the flags point to an empty source,
        // so plan only scans and reports.
        let out = try FerryCLI.run([
            "plan", Corpus.packageRoot.path + "/jobs/nightly.yaml", "--source", dir, "--manifest", manifest,
            "--dest", "OTHER@127.0.0.1:1", "--format", "json",
        ])
        #expect(out.status == 0, "\(out.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any]
        #expect(json?["destination"] as? String == "OTHER@127.0.0.1:1")
        #expect(json?["job"] as? String == "nightly")
    }
}
