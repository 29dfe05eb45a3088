import FerryCodecs
import FerryDICOM
import FerryNetwork
import FerryServices
import Yams

/// A migration job: what to send, where, and how (a YAML file under jobs/, or flags).
/// Secrets are never part of it: the user identity password and the TLS key password are
/// named by an environment variable or a file.
public struct Job: Codable, Sendable, Equatable {
    public var name: String
    public var source = Source()
    public var destination = Destination()
    public var transfer = Transfer()
    public var verify = Verify()
    /// Storage commitment after the sends; nil: none.
    public var commitment: Commitment?
    /// When the job may send; nil: any time.
    public var schedule: ScheduleSetting?
    /// Default: manifests/<name>.sqlite
    public var manifest: String?

    public struct Source: Codable, Sendable, Equatable {
        public var paths: [String] = []
        /// Glob patterns on paths relative to a source root; `**` crosses directories.
        public var include: [String] = []
        public var exclude: [String] = []
        public var recursive = true
        public var followSymlinks = false
        /// A Q/R SCP to pull from instead of files (see Job+PullSource.swift).
        public var pacs: PACS?
        public var query: PullQuerySetting?
        public var retrieve = Retrieve.move
        public var receiver: Receiver?
        /// Retrieves running against the source at once.
        public var maxRetrieves = 2
        /// `ferry run --follow`: the source inventoried again every so often until cutover.
        public var follow: Follow?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case paths, include, exclude, recursive, followSymlinks = "follow_symlinks"
            case pacs, query, retrieve, receiver, maxRetrieves = "max_retrieves", follow
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            paths = try c.decodeIfPresent([String].self, forKey: .paths) ?? []
            include = try c.decodeIfPresent([String].self, forKey: .include) ?? []
            exclude = try c.decodeIfPresent([String].self, forKey: .exclude) ?? []
            recursive = try c.decodeIfPresent(Bool.self, forKey: .recursive) ?? true
            followSymlinks = try c.decodeIfPresent(Bool.self, forKey: .followSymlinks) ?? false
            pacs = try c.decodeIfPresent(PACS.self, forKey: .pacs)
            query = try c.decodeIfPresent(PullQuerySetting.self, forKey: .query)
            retrieve = try c.decodeIfPresent(Retrieve.self, forKey: .retrieve) ?? .move
            receiver = try c.decodeIfPresent(Receiver.self, forKey: .receiver)
            maxRetrieves = try c.decodeIfPresent(Int.self, forKey: .maxRetrieves) ?? 2
            follow = try c.decodeIfPresent(Follow.self, forKey: .follow)
        }
    }

    public struct Destination: Codable, Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 104
        public var calledAE = "ANY-SCP"
        public var callingAE = "FERRY"
        public var tls: TLS?
        public var user: UserIdentitySetting?
        /// Where `ferry verify` queries, when the destination's Q/R SCP is not its storage SCP
        /// (each field defaults to the storage one's).
        public var query: QueryAE?

        public struct QueryAE: Codable, Sendable, Equatable {
            public var host: String?
            public var port: Int?
            public var calledAE: String?
            enum CodingKeys: String, CodingKey, CaseIterable { case host, port, calledAE = "called_ae" }
            public init(host: String? = nil, port: Int? = nil, calledAE: String? = nil) {
                self.host = host
                self.port = port
                self.calledAE = calledAE
            }
        }

        public struct TLS: Codable, Sendable, Equatable {
            public var certificate: String?
            public var key: String?
            public var keyPasswordEnv: String?
            public var keyPasswordFile: String?
            public var caFiles: [String]?
            public var caDirectories: [String]?
            public var verify: TLSVerification?
            /// Trust the system's CA bundle too (never implied).
            public var systemCA: Bool?
            /// Check that the certificate names the destination (default true).
            public var checkHost: Bool?
            public var pinnedCertificates: [String]?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case certificate, key, verify
                case keyPasswordEnv = "key_password_env", keyPasswordFile = "key_password_file"
                case caFiles = "ca_files", caDirectories = "ca_directories"
                case systemCA = "system_ca", checkHost = "check_host", pinnedCertificates = "pinned_certificates"
            }
        }

        public struct UserIdentitySetting: Codable, Sendable, Equatable {
            public var username: String
            public var passwordEnv: String?
            public var passwordFile: String?
            public var positiveResponse: Bool?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case username, passwordEnv = "password_env", passwordFile = "password_file", positiveResponse =
                    "positive_response"
            }
            public init(
                username: String, passwordEnv: String? = nil, passwordFile: String? = nil, positiveResponse: Bool? = nil
            ) {
                self.username = username
                self.passwordEnv = passwordEnv
                self.passwordFile = passwordFile
                self.positiveResponse = positiveResponse
            }
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, port, calledAE = "called_ae", callingAE = "calling_ae", tls, user, query
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? "127.0.0.1"
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? 104
            calledAE = try c.decodeIfPresent(String.self, forKey: .calledAE) ?? "ANY-SCP"
            callingAE = try c.decodeIfPresent(String.self, forKey: .callingAE) ?? "FERRY"
            tls = try c.decodeIfPresent(TLS.self, forKey: .tls)
            user = try c.decodeIfPresent(UserIdentitySetting.self, forKey: .user)
            query = try c.decodeIfPresent(QueryAE.self, forKey: .query)
        }
    }

    public struct Transfer: Codable, Sendable, Equatable {
        /// Parallel associations.
        public var associations = 4
        public var maxPDU = 16384
        /// Seconds (fractions allowed).
        public var connectTimeout = 30.0
        public var acseTimeout = 30.0
        public var dimseTimeout = 120.0
        /// Attempts per file before it is failed (timeouts, aborts, 0xA7xx).
        public var maxAttempts = 3
        /// First backoff after an out-of-resources status, seconds (doubles, with jitter).
        public var backoff = 1.0
        /// DCMTK's -x preference for uncompressed files: uncompressed | little | big | implicit | deflated ...
        public var proposal = ProposalOptions.Preference.uncompressed
        /// Which file wins when two hold the same SOP Instance UID.
        public var conflicts = ConflictRule.first
        /// What may be done to files whose own syntax the destination does not accept.
        public var transcoding = Transcoding()
        /// Before sending again a file whose last store had no answer (timeout, abort, reset),
        /// ask the destination by C-FIND (IMAGE level) whether it holds the instance already.
        public var checkBeforeResend = false
        /// Stores in flight on one association before their responses (the Asynchronous
        /// Operations Window proposed; 1: none proposed, one at a time).
        public var asyncWindow = 16
        /// Whether a study's files stay on one association (some PACS need it) or are spread
        /// over the pool's associations (a large study then gets the pool's parallelism).
        public var studyAffinity = StudyAffinity.oneAssociation
        /// The most MB/s (10^6 bytes) the job's associations send together, paced; nil: no cap.
        public var maxRate: Double?
        /// The most associations the job has open to the destination at once, whatever it
        /// does (sending, verifying): the ceiling a PACS team gives; nil: none beyond
        /// `associations` and `verify.associations`.
        public var maxAssociations: Int?
        /// The send pool's size: `associations`, under `max_associations`.
        public var poolSize: Int { capped(associations) }
        /// `wanted` associations at once, under `max_associations` (the pool, verify's lanes).
        public func capped(_ wanted: Int) -> Int { min(wanted, maxAssociations ?? wanted) }
        /// The order studies go in; the studies of `firstAccessions`, then of `firstPatients`,
        /// before all others.
        public var order = SendOrder.plan
        public var firstPatients: [String] = []
        public var firstAccessions: [String] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case associations, maxPDU = "max_pdu", connectTimeout = "connect_timeout", acseTimeout = "acse_timeout"
            case dimseTimeout = "dimse_timeout", maxAttempts = "max_attempts", backoff, proposal, conflicts, transcoding
            case checkBeforeResend = "check_before_resend", asyncWindow = "async_window"
            case studyAffinity = "study_affinity", maxRate = "max_rate", order, firstPatients = "first_patients"
            case firstAccessions = "first_accessions", maxAssociations = "max_associations"
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            let defaults = Transfer()
            associations = try c.decodeIfPresent(Int.self, forKey: .associations) ?? defaults.associations
            maxPDU = try c.decodeIfPresent(Int.self, forKey: .maxPDU) ?? defaults.maxPDU
            connectTimeout = try c.decodeIfPresent(Double.self, forKey: .connectTimeout) ?? defaults.connectTimeout
            acseTimeout = try c.decodeIfPresent(Double.self, forKey: .acseTimeout) ?? defaults.acseTimeout
            dimseTimeout = try c.decodeIfPresent(Double.self, forKey: .dimseTimeout) ?? defaults.dimseTimeout
            maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? defaults.maxAttempts
            backoff = try c.decodeIfPresent(Double.self, forKey: .backoff) ?? defaults.backoff
            proposal = try c.decodeIfPresent(ProposalOptions.Preference.self, forKey: .proposal) ?? defaults.proposal
            conflicts = try c.decodeIfPresent(ConflictRule.self, forKey: .conflicts) ?? defaults.conflicts
            transcoding = try c.decodeIfPresent(Transcoding.self, forKey: .transcoding) ?? defaults.transcoding
            checkBeforeResend = try c.decodeIfPresent(Bool.self, forKey: .checkBeforeResend) ?? false
            asyncWindow = try c.decodeIfPresent(Int.self, forKey: .asyncWindow) ?? defaults.asyncWindow
            studyAffinity = try c.decodeIfPresent(StudyAffinity.self, forKey: .studyAffinity) ?? defaults.studyAffinity
            maxRate = try c.decodeIfPresent(Double.self, forKey: .maxRate)
            maxAssociations = try c.decodeIfPresent(Int.self, forKey: .maxAssociations)
            order = try c.decodeIfPresent(SendOrder.self, forKey: .order) ?? defaults.order
            firstPatients = try c.decodeIfPresent([String].self, forKey: .firstPatients) ?? []
            firstAccessions = try c.decodeIfPresent([String].self, forKey: .firstAccessions) ?? []
        }
    }

    /// `ferry verify`'s settings.
    public struct Verify: Codable, Sendable, Equatable {
        /// Associations querying at once, each one study at a time (1...16).
        public var associations = 2
        enum CodingKeys: String, CodingKey, CaseIterable { case associations }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            associations = try c.decodeIfPresent(Int.self, forKey: .associations) ?? 2
        }
    }

    /// The transcoding policy as written in a job: syntaxes by short name ("jpeg-ls-lossless"),
    /// DCMTK name ("JPEGLSLossless") or UID.
    public struct Transcoding: Codable, Sendable, Equatable {
        public var order = [
            "jpeg-ls-lossless", "j2k-lossless", "jpeg-lossless-sv1", "rle", "explicit-le", "implicit-le",
        ]
        /// Lossy encodings (order entries or target) only when true.
        public var allowLossy = false
        /// Compress everything to this syntax first, where the destination accepts it.
        public var target: String?
        /// Decode every lossless encoding and compare with the source pixels before sending.
        public var verify = true
        /// zlib level (0-9) for files sent as Deflated Explicit VR Little Endian.
        public var deflateLevel = Int(Deflate.defaultLevel)
        /// The most decoded pixel data a file to re-encode may need ("2GiB", "512M", bytes);
        /// a file over it fails with the sizes instead of being decoded.
        public var pixelBudget: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case order, allowLossy = "allow_lossy", target, verify, deflateLevel = "deflate_level"
            case pixelBudget = "pixel_budget"
        }
        public init() {}
        public init(from d: Decoder) throws {
            let c = try d.container(onlyKeyedBy: CodingKeys.self)
            let defaults = Transcoding()
            order = try c.decodeIfPresent([String].self, forKey: .order) ?? defaults.order
            allowLossy = try c.decodeIfPresent(Bool.self, forKey: .allowLossy) ?? defaults.allowLossy
            target = try c.decodeIfPresent(String.self, forKey: .target)
            verify = try c.decodeIfPresent(Bool.self, forKey: .verify) ?? defaults.verify
            deflateLevel = try c.decodeIfPresent(Int.self, forKey: .deflateLevel) ?? defaults.deflateLevel
            pixelBudget = try c.decodeIfPresent(String.self, forKey: .pixelBudget)
        }

        /// The policy, or the first name that is not a transfer syntax or needs allow_lossy.
        public func policy() throws -> TranscodingPolicy {
            func syntax(_ name: String) throws -> TransferSyntax {
                guard let ts = TransferSyntaxNames.lookup(name) else {
                    throw MigrationError.invalidJob(
                        "transcoding: unknown transfer syntax \(name) (names: \(TransferSyntaxNames.listed), DCMTK names or UIDs)"
                    )
                }
                guard ts.isLossless || allowLossy else {
                    throw MigrationError.invalidJob("transcoding: \(name) is lossy; set allow_lossy: true to use it")
                }
                return ts
            }
            var budget = Transcoder.defaultPixelBudget
            if let pixelBudget {
                guard let parsed = ByteCount.parse(pixelBudget) else {
                    throw MigrationError.invalidJob(
                        "transcoding: pixel_budget \"\(pixelBudget)\" is not a size (bytes, or a number and K, M, G or T)"
                    )
                }
                budget = parsed
            }
            return TranscodingPolicy(
                order: try order.map(syntax), allowLossy: allowLossy, target: try target.map(syntax), verify: verify,
                pixelBudget: budget)
        }
    }

    public init(name: String) { self.name = name }

    public var manifestPath: String { manifest ?? "manifests/\(name).sqlite" }

    /// Reads a YAML job file; the job's name defaults to the file's base name.
    public static func load(path: String) throws -> Job {
        let text: String
        do { text = String(decoding: try FileBytes.readAll(path), as: UTF8.self) } catch {
            throw MigrationError(.invalidJob, "cannot read job file \(path): \(error)", path: path, underlying: error)
        }
        return try parse(yaml: text, file: path)
    }

    /// A job file's text; `file` names it in messages ("jobs/x.yaml, line 12: ...") and gives
    /// the job's name when the text has none.
    public static func parse(yaml text: String, file: String) throws -> Job {
        let root: Node
        do { root = try JobFile.compose(text) } catch { throw JobFile.error(error, file: file, root: Node("")) }
        do {
            try JobFile.rejectSecrets(in: root, file: file)
            var job = try YAMLDecoder().decode(JobFile.self, from: root).job
            if job.name.isEmpty {
                job.name = String(file.split(separator: "/").last?.split(separator: ".").first ?? "job")
            }
            return job
        } catch {
            throw JobFile.error(error, file: file, root: root)
        }
    }

    /// Checks what a run needs; names the first problem.
    public func validate() throws {
        try validatePull()
        if source.paths.isEmpty, source.pacs == nil {
            throw MigrationError.invalidJob(
                "job \(name): no source paths (source: paths: [...] in the job file, or --source)")
        }
        guard (1...65535).contains(destination.port) else {
            throw MigrationError.invalidJob("job \(name): destination port \(destination.port)")
        }
        guard (1...64).contains(transfer.associations) else {
            throw MigrationError.invalidJob("job \(name): associations must be 1...64")
        }
        if let cap = transfer.maxAssociations, !(1...64).contains(cap) {
            throw MigrationError.invalidJob("job \(name): max_associations must be 1...64")
        }
        guard transfer.maxPDU == 0 || (4096...131072).contains(transfer.maxPDU) else {
            throw MigrationError.invalidJob("job \(name): max_pdu must be 0 or 4096...131072")
        }
        // Bounded so that no count or wait derived from them can overflow.
        if let rate = transfer.maxRate, !(rate > 0 && rate <= 100_000) {
            throw MigrationError.invalidJob("job \(name): max_rate must be above 0 and at most 100000 MB/s")
        }
        guard (1...256).contains(transfer.asyncWindow) else {
            throw MigrationError.invalidJob("job \(name): async_window must be 1...256")
        }
        guard (1...1000).contains(transfer.maxAttempts) else {
            throw MigrationError.invalidJob("job \(name): max_attempts must be 1...1000")
        }
        let timeouts = [transfer.connectTimeout, transfer.acseTimeout, transfer.dimseTimeout]
        guard timeouts.allSatisfy({ $0 > 0 && $0 <= 86_400 * 365 }), (0...3600).contains(transfer.backoff) else {
            throw MigrationError.invalidJob(
                "job \(name): timeouts must be positive (at most a year) and backoff 0...3600 seconds")
        }
        guard Deflate.levels.contains(Int32(clamping: transfer.transcoding.deflateLevel)) else {
            throw MigrationError.invalidJob("job \(name): transcoding.deflate_level must be 0...9")
        }
        do { _ = try transfer.transcoding.policy() } catch let e as MigrationError {
            throw MigrationError.invalidJob("job \(name): \(e.message)")
        }
        guard (1...16).contains(verify.associations) else {
            throw MigrationError.invalidJob("job \(name): verify.associations must be 1...16")
        }
        try commitment?.validate(job: name)
        if let schedule { _ = try Schedule(schedule.windows) }
        for ae in [destination.calledAE, destination.callingAE] where ae.isEmpty || ae.count > 16 {
            throw MigrationError.invalidJob("job \(name): AE title \"\(ae)\" must be 1 to 16 characters")
        }
    }
}

// Decoded by hand, like the other sections, so that they too refuse keys they do not know;
// in extensions, which keep their memberwise initializers.
extension Job.Destination.QueryAE {
    public init(from d: Decoder) throws {
        let c = try d.container(onlyKeyedBy: CodingKeys.self)
        self.init(
            host: try c.decodeIfPresent(String.self, forKey: .host),
            port: try c.decodeIfPresent(Int.self, forKey: .port),
            calledAE: try c.decodeIfPresent(String.self, forKey: .calledAE))
    }
}

extension Job.Destination.TLS {
    public init(from d: Decoder) throws {
        let c = try d.container(onlyKeyedBy: CodingKeys.self)
        certificate = try c.decodeIfPresent(String.self, forKey: .certificate)
        key = try c.decodeIfPresent(String.self, forKey: .key)
        keyPasswordEnv = try c.decodeIfPresent(String.self, forKey: .keyPasswordEnv)
        keyPasswordFile = try c.decodeIfPresent(String.self, forKey: .keyPasswordFile)
        caFiles = try c.decodeIfPresent([String].self, forKey: .caFiles)
        caDirectories = try c.decodeIfPresent([String].self, forKey: .caDirectories)
        verify = try c.decodeIfPresent(TLSVerification.self, forKey: .verify)
        systemCA = try c.decodeIfPresent(Bool.self, forKey: .systemCA)
        checkHost = try c.decodeIfPresent(Bool.self, forKey: .checkHost)
        pinnedCertificates = try c.decodeIfPresent([String].self, forKey: .pinnedCertificates)
    }
}

extension Job.Destination.UserIdentitySetting {
    public init(from d: Decoder) throws {
        let c = try d.container(onlyKeyedBy: CodingKeys.self)
        self.init(
            username: try c.decode(String.self, forKey: .username),
            passwordEnv: try c.decodeIfPresent(String.self, forKey: .passwordEnv),
            passwordFile: try c.decodeIfPresent(String.self, forKey: .passwordFile),
            positiveResponse: try c.decodeIfPresent(Bool.self, forKey: .positiveResponse))
    }
}

/// The YAML layout: the job's settings at the top level, `name` optional.
struct JobFile: Decodable {
    var job: Job
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, destination, transfer, verify, commitment, schedule, manifest
    }
    init(from d: Decoder) throws {
        let c = try d.container(onlyKeyedBy: CodingKeys.self)
        job = Job(name: try c.decodeIfPresent(String.self, forKey: .name) ?? "")
        job.source = try c.decodeIfPresent(Job.Source.self, forKey: .source) ?? Job.Source()
        job.destination = try c.decodeIfPresent(Job.Destination.self, forKey: .destination) ?? Job.Destination()
        job.transfer = try c.decodeIfPresent(Job.Transfer.self, forKey: .transfer) ?? Job.Transfer()
        job.verify = try c.decodeIfPresent(Job.Verify.self, forKey: .verify) ?? Job.Verify()
        job.commitment = try c.decodeIfPresent(Job.Commitment.self, forKey: .commitment)
        job.schedule = try c.decodeIfPresent(Job.ScheduleSetting.self, forKey: .schedule)
        job.manifest = try c.decodeIfPresent(String.self, forKey: .manifest)
    }

    /// The text's YAML nodes, composed as YAMLDecoder would (merge keys resolved, scalars left
    /// to the decoder): decoded from, and followed to the line of a decoding error's path.
    static func compose(_ text: String) throws -> Node {
        try Yams.compose(yaml: text, Resolver.basic.appending(.merge)) ?? Node("")
    }

    /// Secrets never belong in a job file: a key that would hold one is an error.
    static func rejectSecrets(in node: Node, file: String, path: String = "") throws {
        if let mapping = node.mapping {
            for (key, value) in mapping {
                let name = key.string ?? ""
                if ["password", "passcode", "passwd", "key_password", "token"].contains(name) {
                    let at = key.mark.map { "\(file), line \($0.line)" } ?? file
                    throw MigrationError(
                        .invalidJob,
                        "\(at): \(path)\(name): secrets do not belong in job files; use \(name)_env (an environment variable) or \(name)_file",
                        path: file, line: key.mark?.line)
                }
                try rejectSecrets(in: value, file: file, path: path + name + ".")
            }
        } else if let sequence = node.sequence {
            for item in sequence { try rejectSecrets(in: item, file: file, path: path) }
        }
    }
}
