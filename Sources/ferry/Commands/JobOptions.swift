import ArgumentParser
import FerryMigration
import FerryServices

/// The job settings every pipeline command accepts: a YAML job file and/or flags (flags win).
struct JobOptions: ParsableArguments {
    @Argument(help: "Job file (YAML), or a manifest (.sqlite) for status/report.")
    var job: String?

    @Option(name: .long, help: "Job name (default: the job file's name, or \"job\").")
    var name: String?
    @Option(name: .long, help: "Source directory or file (repeatable).")
    var source: [String] = []
    @Option(name: .long, help: "Include glob on paths relative to a source (repeatable; ** crosses directories).")
    var include: [String] = []
    @Option(name: .long, help: "Exclude glob (repeatable).")
    var exclude: [String] = []
    @Flag(name: .customLong("no-recurse"), help: "Do not descend into subdirectories.")
    var noRecurse = false
    @Flag(name: .customLong("follow-symlinks"), help: "Follow symbolic links.")
    var followSymlinks = false
    @Option(name: .customLong("source-pacs"), help: "Pull from this Q/R SCP, as CALLED_AE@HOST:PORT (source.pacs).")
    var sourcePACS: String?
    @Option(name: .customLong("source-calling-ae"), help: "Our AE title towards the PACS source (default FERRY).")
    var sourceCallingAE: String?
    @Option(name: .long, help: "Pull studies from this Study Date on (YYYY-MM-DD; source.query.from).")
    var from: String?
    @Option(name: .long, help: "Pull studies up to this Study Date (YYYY-MM-DD; source.query.to).")
    var to: String?
    @Option(name: .long, help: "First inventory slice: Nd, Nw, Nm or Ny (source.query.slice).")
    var slice: String?
    @Option(name: .long, help: "Pull studies of this modality (repeatable; source.query.modalities).")
    var modality: [String] = []
    @Option(
        name: .customLong("patient-id"), help: "Pull this patient's studies (repeatable; source.query.patient_ids).")
    var patientID: [String] = []
    @Option(name: .customLong("max-answers"), help: "The source's cap on C-FIND answers (source.query.max_answers).")
    var maxAnswers: Int?
    @Option(help: "How instances come from the PACS source: move, get or move-direct (source.retrieve).")
    var retrieve: Job.Source.Retrieve?
    @Option(name: .customLong("max-retrieves"), help: "Retrieves against the PACS source at once (default 2).")
    var maxRetrieves: Int?
    @Option(
        name: .customLong("follow"),
        help:
            "ferry run: inventory the PACS source again every INTERVAL (Ns, Nm, Nh) and pull what is new (source.follow.interval)."
    )
    var follow: String?
    @Option(
        name: .customLong("follow-window"),
        help:
            "The trailing Study Dates each --follow pass inventories: Nd, Nw, Nm or Ny (default 7d; source.follow.window)."
    )
    var followWindow: String?
    @Option(name: .long, help: "Destination as CALLED_AE@HOST:PORT.")
    var dest: String?
    @Option(name: .customLong("calling-ae"), help: "Our AE title (default FERRY).")
    var callingAE: String?
    @Option(name: .long, help: "Parallel associations (default 4).")
    var associations: Int?
    @Option(name: .customLong("max-pdu"), help: "Our maximum PDU (default 16384).")
    var maxPDU: Int?
    @Option(name: .customLong("max-attempts"), help: "Attempts per file before it fails (default 3).")
    var maxAttempts: Int?
    @Option(
        name: .customLong("async-window"),
        help: "Stores in flight on one association where the destination grants it (default 16; 1: one at a time).")
    var asyncWindow: Int?
    @Option(
        name: .customLong("study-affinity"),
        help: "one-association (a study's files on one association, default) or spread (over the pool).")
    var studyAffinity: StudyAffinity?
    @Option(name: .customLong("max-rate"), help: "The most MB/s the job sends, all associations together (paced).")
    var maxRate: Double?
    @Option(
        name: .customLong("max-associations"),
        help: "The most associations open to the destination at once, sending or verifying.")
    var maxAssociations: Int?
    @Option(help: "Study order: plan (by UID, default), newest-first or oldest-first (by Study Date).")
    var order: SendOrder?
    @Option(name: .customLong("first-patient"), help: "A Patient ID whose studies go before all others (repeatable).")
    var firstPatient: [String] = []
    @Option(
        name: .customLong("first-accession"),
        help: "An Accession Number whose study goes before all others (repeatable).")
    var firstAccession: [String] = []
    @Option(
        name: .customLong("dimse-timeout"),
        help: "Seconds to wait for a C-STORE response (default 120; fractions allowed).")
    var dimseTimeout: Double?
    @Option(name: .long, help: "First backoff in seconds after an out-of-resources status (default 1; doubles).")
    var backoff: Double?
    @Option(
        name: .long,
        help: "Preferred uncompressed proposal: uncompressed, little, big, implicit, deflated ... (DCMTK's -x).")
    var proposal: ProposalOptions.Preference?
    @Option(name: .long, help: "Duplicate SOP Instance UIDs: first, newest or none.")
    var conflicts: ConflictRule?
    @Option(
        name: .customLong("transcode-order"),
        help:
            "Syntaxes to re-encode into, best first, comma separated (default jpeg-ls-lossless,j2k-lossless,jpeg-lossless-sv1,rle,explicit-le,implicit-le)."
    )
    var transcodeOrder: String?
    @Option(
        name: .long,
        help: "Compress every file to this syntax first where the destination accepts it (e.g. jpeg-ls-lossless).")
    var target: String?
    @Flag(
        name: .customLong("allow-lossy"),
        help: "Allow lossy encodings (order entries or --target); they get a new SOP Instance UID.")
    var allowLossy = false
    @Option(name: .customLong("deflate-level"), help: "zlib level 0-9 for files sent deflated (default 6).")
    var deflateLevel: Int?
    @Flag(
        name: .customLong("no-verify"), help: "Do not decode lossless encodings to compare them with the source pixels."
    )
    var noVerify = false
    @Option(
        name: .customLong("pixel-budget"),
        help: "Most decoded pixel data a file to re-encode may need (2GiB by default; bytes or K, M, G, T).")
    var pixelBudget: String?
    @Option(name: .long, help: "Manifest path (default manifests/<name>.sqlite).")
    var manifest: String?
    @Option(
        name: .customLong("user"), help: "User identity: user name (password from --password-env or --password-file).")
    var user: String?
    @Option(name: .customLong("password-env"), help: "Environment variable holding the user identity password.")
    var passwordEnv: String?
    @Option(name: .customLong("password-file"), help: "File holding the user identity password.")
    var passwordFile: String?

    /// The job: the YAML file's settings, then the flags on top.
    /// The job, with `ferry verify`'s --query-dest as its destination.query.
    func resolve(queryDestination: String?) throws -> Job {
        var job = try resolve()
        if let q = queryDestination {
            let (ae, host, port) = try Self.address(q, option: "--query-dest")
            job.destination.query = Job.Destination.QueryAE(host: host, port: port, calledAE: ae)
        }
        return job
    }

    /// CALLED_AE@HOST:PORT.
    static func address(_ text: String, option: String) throws -> (String, String, Int) {
        guard let at = text.lastIndex(of: "@"), let colon = text.lastIndex(of: ":"), at < colon,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw ValidationError("\(option) must be CALLED_AE@HOST:PORT")
        }
        return (String(text[..<at]), String(text[text.index(after: at)..<colon]), port)
    }

    func resolve() throws -> Job {
        var job: Job
        if let path = self.job, !path.hasSuffix(".sqlite") {
            job = try Job.load(path: path)
        } else {
            job = Job(name: name ?? "job")
            if let path = self.job { job.manifest = path }
        }
        if let name { job.name = name }
        if !source.isEmpty { job.source.paths = source }
        if !include.isEmpty { job.source.include = include }
        if !exclude.isEmpty { job.source.exclude = exclude }
        if noRecurse { job.source.recursive = false }
        if followSymlinks { job.source.followSymlinks = true }
        try resolvePull(&job)
        if let dest {
            (job.destination.calledAE, job.destination.host, job.destination.port) = try Self.address(
                dest, option: "--dest")
        }
        if let callingAE { job.destination.callingAE = callingAE }
        if let associations { job.transfer.associations = associations }
        if let maxPDU { job.transfer.maxPDU = maxPDU }
        if let maxAttempts { job.transfer.maxAttempts = maxAttempts }
        if let asyncWindow { job.transfer.asyncWindow = asyncWindow }
        if let studyAffinity { job.transfer.studyAffinity = studyAffinity }
        if let maxRate { job.transfer.maxRate = maxRate }
        if let maxAssociations { job.transfer.maxAssociations = maxAssociations }
        if let order { job.transfer.order = order }
        if !firstPatient.isEmpty { job.transfer.firstPatients = firstPatient }
        if !firstAccession.isEmpty { job.transfer.firstAccessions = firstAccession }
        if let proposal { job.transfer.proposal = proposal }
        if let dimseTimeout { job.transfer.dimseTimeout = dimseTimeout }
        if let backoff { job.transfer.backoff = backoff }
        if let conflicts { job.transfer.conflicts = conflicts }
        if let transcodeOrder {
            job.transfer.transcoding.order = transcodeOrder.split(separator: ",").map {
                $0.split(separator: " ").joined()
            }
        }
        if let target { job.transfer.transcoding.target = target }
        if allowLossy { job.transfer.transcoding.allowLossy = true }
        if noVerify { job.transfer.transcoding.verify = false }
        if let deflateLevel { job.transfer.transcoding.deflateLevel = deflateLevel }
        if let pixelBudget { job.transfer.transcoding.pixelBudget = pixelBudget }
        if let manifest { job.manifest = manifest }
        if let user {
            job.destination.user = Job.Destination.UserIdentitySetting(
                username: user, passwordEnv: passwordEnv, passwordFile: passwordFile)
        }
        return job
    }
}

/// Exit codes of the pipeline commands.
extension ExitCode {
    /// The exit code of one of Ferry's statuses.
    init(_ status: ExitStatus) { self.init(status.rawValue) }
}

extension JobOptions {
    /// The pull source's flags on top of the job file's `source.pacs`, `source.query` and the rest.
    func resolvePull(_ job: inout Job) throws {
        if let sourcePACS {
            var pacs = job.source.pacs ?? Job.Source.PACS()
            (pacs.calledAE, pacs.host, pacs.port) = try Self.address(sourcePACS, option: "--source-pacs")
            job.source.pacs = pacs
        }
        if let sourceCallingAE {
            job.source.pacs = job.source.pacs ?? Job.Source.PACS()
            job.source.pacs?.callingAE = sourceCallingAE
        }
        var query = job.source.query ?? Job.Source.PullQuerySetting()
        if let from { query.from = from }
        if let to { query.to = to }
        if let slice { query.slice = slice }
        if !modality.isEmpty { query.modalities = modality }
        if !patientID.isEmpty { query.patientIDs = patientID }
        if let maxAnswers { query.maxAnswers = maxAnswers }
        if query != Job.Source.PullQuerySetting() { job.source.query = query }
        if let retrieve { job.source.retrieve = retrieve }
        if let maxRetrieves { job.source.maxRetrieves = maxRetrieves }
        if let follow { job.source.follow = Job.Source.Follow(interval: follow, window: job.source.follow?.window) }
        if let followWindow {
            guard job.source.follow != nil else {
                throw ValidationError("--follow-window needs --follow or source.follow")
            }
            job.source.follow?.window = followWindow
        }
    }
}

extension Job.Source.Retrieve: ExpressibleByArgument {}
