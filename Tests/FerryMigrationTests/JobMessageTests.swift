import Foundation
import TestSupport
import Testing

@testable import FerryMigration

/// What a person reads about a job file with a mistake in it: the file, the line, the key, and
/// in words what was expected or which key was meant.
struct JobMessageTests {
    static let file = "jobs/x.yaml"

    static func message(_ yaml: String) -> String {
        do {
            _ = try Job.parse(yaml: yaml, file: file)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    /// A value of the wrong kind names what the setting takes and what the file holds.
    @Test(arguments: [
        (
            "name: x\nsource:\n  paths: [/data]\ntransfer:\n  associations: four\n",
            #"jobs/x.yaml, line 5: transfer.associations: expected a whole number, found "four""#
        ),
        (
            "transfer:\n  connect_timeout: soon\n",
            #"jobs/x.yaml, line 2: transfer.connect_timeout: expected a number, found "soon""#
        ),
        (
            "transfer:\n  check_before_resend: maybe\n",
            #"jobs/x.yaml, line 2: transfer.check_before_resend: expected true or false, found "maybe""#
        ),
        ("source:\n  paths: /data\n", #"jobs/x.yaml, line 2: source.paths: expected a list, found "/data""#),
        ("source: /data\n", #"jobs/x.yaml, line 1: source: expected a mapping of keys to values, found "/data""#),
        (
            "transfer:\n  transcoding:\n    order: [rle, {j2k: yes}]\n",
            "jobs/x.yaml, line 3: transfer.transcoding.order[1]: expected a single value, found a mapping"
        ),
        (
            "transfer:\n  conflicts: latest\n",
            #"jobs/x.yaml, line 2: transfer.conflicts: expected one of first, newest, none, found "latest""#
        ),
        (
            "commitment:\n  batch: weekly\n",
            #"jobs/x.yaml, line 2: commitment.batch: expected study, end or a number of instances, found "weekly""#
        ),
    ])
    func wrongKindOfValue(yaml: String, expected: String) {
        #expect(Self.message(yaml) == expected)
    }

    /// A key no section knows is refused (it used to be skipped, its setting left at the
    /// default), with the nearest known key; each section of the file checks its own.
    @Test(arguments: [
        (
            "name: x\nsource:\n  paths: [/data]\ndestinaton:\n  host: pacs\n",
            #"jobs/x.yaml, line 4: destinaton: unknown key; did you mean "destination"?"#
        ),
        ("source:\n  path: /data\n", #"jobs/x.yaml, line 2: source.path: unknown key; did you mean "paths"?"#),
        (
            "destination:\n  calledAE: PACS\n",
            #"jobs/x.yaml, line 2: destination.calledAE: unknown key; did you mean "called_ae"?"#
        ),
        (
            "destination:\n  tls:\n    ca_file: ca.crt\n",
            #"jobs/x.yaml, line 3: destination.tls.ca_file: unknown key; did you mean "ca_files"?"#
        ),
        (
            "destination:\n  user:\n    username: u\n    pasword_env: P\n",
            #"jobs/x.yaml, line 4: destination.user.pasword_env: unknown key; did you mean "password_env"?"#
        ),
        (
            "destination:\n  query:\n    calling_ae: X\n",
            "jobs/x.yaml, line 3: destination.query.calling_ae: unknown key; the keys here are host, port, called_ae"
        ),
        (
            "transfer:\n  asociations: 2\n",
            #"jobs/x.yaml, line 2: transfer.asociations: unknown key; did you mean "associations"?"#
        ),
        (
            "transfer:\n  transcoding:\n    deflate-level: 9\n",
            #"jobs/x.yaml, line 3: transfer.transcoding.deflate-level: unknown key; did you mean "deflate_level"?"#
        ),
        (
            "verify:\n  association: 2\n",
            #"jobs/x.yaml, line 2: verify.association: unknown key; did you mean "associations"?"#
        ),
        (
            "schedule:\n  windows: [Sat]\n  outsde: wait\n",
            #"jobs/x.yaml, line 3: schedule.outsde: unknown key; did you mean "outside"?"#
        ),
        (
            "commitment:\n  listen-port: 11115\n",
            #"jobs/x.yaml, line 2: commitment.listen-port: unknown key; did you mean "listen_port"?"#
        ),
    ])
    func unknownKey(yaml: String, expected: String) {
        #expect(Self.message(yaml) == expected)
    }

    /// A key a section needs names itself, at the line of its section.
    @Test(arguments: [
        ("schedule:\n  outside: wait\n", "jobs/x.yaml, line 1: schedule.windows: missing (this key is required)"),
        (
            "destination:\n  user:\n    password_env: P\n",
            "jobs/x.yaml, line 2: destination.user.username: missing (this key is required)"
        ),
    ])
    func missingKey(yaml: String, expected: String) {
        #expect(Self.message(yaml) == expected)
    }

    /// Yams reports no value only past the end of a list, which no job setting reads: the
    /// wording is checked on the error itself.
    @Test func valueNotFound() throws {
        let path: [any CodingKey] = [JobFile.CodingKeys.transfer, Job.Transfer.CodingKeys.associations]
        let error = JobFile.error(
            DecodingError.valueNotFound(Int.self, DecodingError.Context(codingPath: path, debugDescription: "")),
            file: Self.file, root: try JobFile.compose("transfer:\n  associations:\n"))
        #expect(error.message == "jobs/x.yaml, line 2: transfer.associations: expected a whole number, found nothing")
        #expect(error.path == Self.file && error.line == 2 && error.code == .invalidJob)
    }

    /// Text that is not YAML says libyaml's problem at its line, and where the unfinished part
    /// began.
    @Test(arguments: [
        (
            "source:\n  paths: [/data\ntransfer:\n  associations: 4\n",
            "jobs/x.yaml, line 3: not valid YAML: did not find expected ',' or ']' (while parsing a flow sequence started on line 2)"
        ),
        (
            "source:\n  paths: [/data]\n  exclude: a: b\n",
            "jobs/x.yaml, line 3: not valid YAML: mapping values are not allowed in this context"
        ),
        (
            "transfer:\n  associations: 2\n  associations: 3\n",
            #"jobs/x.yaml, line 2: "associations" given twice in one section"#
        ),
    ])
    func notYAML(yaml: String, expected: String) {
        #expect(Self.message(yaml) == expected)
    }

    @Test func aSecretInTheFile() {
        #expect(
            Self.message("destination:\n  user:\n    username: u\n    password: hunter2\n")
                == "jobs/x.yaml, line 4: destination.user.password: secrets do not belong in job files; use password_env (an environment variable) or password_file"
        )
    }

    /// `path:` for `paths:` used to pass the file and fail later with only "no source paths";
    /// that message, for a job whose file and flags give none, now says where they go.
    @Test func noSourcePaths() throws {
        #expect(Self.message("source:\n  path: /data\n").contains("did you mean \"paths\"?"))
        let job = try Job.parse(yaml: "destination:\n  host: pacs\n", file: Self.file)
        #expect(job.name == "x", "named after the file")
        do {
            try job.validate()
            Issue.record("a job without source paths validated")
        } catch {
            #expect("\(error)" == "job x: no source paths (source: paths: [...] in the job file, or --source)")
        }
    }

    /// The job files the docs show (README.md, docs/job-file.md's full example) and those in
    /// jobs/ use only keys the sections know.
    @Test(arguments: ["README.md", "docs/job-file.md"])
    func theDocumentedExamplesLoad(doc: String) throws {
        let text = try String(contentsOfFile: Corpus.packageRoot.path + "/" + doc, encoding: .utf8)
        let start = try #require(text.range(of: "```yaml\nname: impax-migration"))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        let yaml = String(text[text.index(start.lowerBound, offsetBy: 8)..<end.lowerBound])
        let job = try Job.parse(yaml: yaml, file: doc)
        #expect(job.name == "impax-migration" && !job.source.paths.isEmpty)
    }

    @Test func theJobsFolderLoads() throws {
        let folder = Corpus.packageRoot.path + "/jobs"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 2)
        for f in files {
            let yaml = try String(contentsOfFile: folder + "/" + f, encoding: .utf8)
            #expect(throws: Never.self, "\(f)") { try Job.parse(yaml: yaml, file: f) }
        }
    }
}
