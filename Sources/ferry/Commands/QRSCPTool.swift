import FerryArchive
import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry qrscp`: DCMTK dcmqrscp's configuration file and options on Ferry's receiver and
/// Query/Retrieve index. One process serves every association (no fork).
enum QRSCPTool {
    struct Settings {
        /// storescp's settings, for the options the two tools share.
        var store = StoreSCPTool.Settings()
        var configPath = "/etc/dcmtk/dcmqrscp.cfg"
        var archive = Archive.Options()
        var indexOnly: [String] = []
        var indexAETitle: String?
        /// storescu's settings, for the -x? options that shape the C-MOVE sub-associations.
        var outgoing = StoreSCUTool.Settings()
        /// The answer conversion so far, changed by `change` (the first charset option enables it).
        func answerCharset(_ change: (inout AnswerCharset) -> Void) -> AnswerCharset {
            var c = archive.answerCharset ?? AnswerCharset()
            change(&c)
            return c
        }
        /// -xf: the association profile file, its profile for incoming associations and its
        /// profile for outgoing ones.
        var profiles: (path: String, incoming: String, outgoing: String)?
    }

    /// storescp's options that mean the same for dcmqrscp, and its TLS options (dcmqrscp has
    /// none; Ferry's secures incoming associations and C-MOVE sub-associations with them).
    static let shared = Set<String>([
        "--prefer-uncompr", "--prefer-little", "--prefer-big", "--prefer-lossless", "--prefer-jpeg8",
        "--prefer-jpeg12", "--prefer-j2k-lossless", "--prefer-j2k-lossy", "--prefer-jls-lossless",
        "--prefer-jls-lossy", "--prefer-rle", "--prefer-deflated", "--implicit", "--accept-all", "--socket-timeout",
        "--acse-timeout", "--dimse-timeout", "--max-pdu", "--disable-host-lookup", "--refuse", "--reject", "--ignore",
        "--uid-padding", "--max-associations", "--max-associations-per-host", "--max-instance-size",
        "--max-store-time", "--bind", "--normal", "--bit-preserving", "--write-file", "--write-dataset",
        "--write-xfer-same", "--write-xfer-little", "--write-xfer-big", "--write-xfer-implicit",
        "--write-xfer-deflated", "--enable-new-vr", "--disable-new-vr", "--compression-level", "--fsync",
        "--abort-after-storing", "--block-storage", "--async-window", "--storage-commitment", "--commitment-report-to",
        "--commitment-delay",
    ]).union(CommonOptions.tls.map(\.spec.long))

    static let q = "Query/Retrieve"

    static let options: [DCMTKOption<Settings>] =
        StoreSCPTool.options.filter { shared.contains($0.spec.long) || $0.spec.group == "general options" }
        .filter { $0.spec.long != "--verbose-pc" }.lifted(\.store)
        + StoreSCUTool.options.filter { ($0.spec.short ?? "").hasPrefix("-x") && $0.spec.short != "-xf" }.map {
            $0.regrouped("proposed transmission transfer syntaxes (outgoing associations)")
        }.lifted(\.outgoing)
        + [
            DCMTKOption(
                "-xf", "--assoc-config-file", ["[f]ilename", "[i]n-profile", "[o]ut-profile"],
                "use profile i from f for incoming associations\nuse profile o from f for outgoing associations",
                group: "association negotiation profiles from configuration file"
            ) { s, o in s.profiles = (o.values[0], o.values[1], o.values[2]) },
            DCMTKOption(
                "-c", "--config", ["[f]ilename"], "use specific configuration file\n(default: /etc/dcmtk/dcmqrscp.cfg)",
                group: "general options"
            ) { s, o in s.configPath = o.values[0] },
            DCMTKOption(
                "-s", "--single-process", [], "single process mode (Ferry serves all associations in one process)",
                group: "multi-process options"
            ) { _, _ in },
            DCMTKOption(
                nil, "--fork", [], "fork child process for each association (accepted; Ferry never forks)",
                group: "multi-process options"
            ) { _, _ in },
            DCMTKOption(
                "-XF", "--check-find", [], "check C-FIND identifier attributes (A900 if not hierarchical)", group: q
            ) {
                s, _ in s.archive.checkFind = true
            },
            DCMTKOption(nil, "--no-check-find", [], "do not check C-FIND identifier attributes (default)", group: q) {
                s, _ in s.archive.checkFind = false
            },
            DCMTKOption(
                "-XM", "--check-move", [], "check C-MOVE identifier attributes (A900 if not unique keys)", group: q
            ) { s, _ in s.archive.checkMove = true },
            DCMTKOption(nil, "--no-check-move", [], "do not check C-MOVE identifier attributes (default)", group: q) {
                s, _ in s.archive.checkMove = false
            },
            DCMTKOption(nil, "--move-unrestricted", [], "do not restrict move destination (default)", group: q) {
                s, _ in s.archive.moveRestrictions = []
            },
            DCMTKOption("-ZA", "--move-aetitle", [], "restrict move destination to requesting AE title", group: q) {
                s, _ in s.archive.moveRestrictions.insert(.aeTitle)
            },
            DCMTKOption("-ZH", "--move-host", [], "restrict move destination to requesting host", group: q) { s, _ in
                s.archive.moveRestrictions.insert(.host)
            },
            DCMTKOption("-ZV", "--move-vendor", [], "restrict move destination to requesting vendor", group: q) {
                s, _ in s.archive.moveRestrictions.insert(.vendor)
            },
            DCMTKOption(
                nil, "--move-associations", ["[n]umber"],
                "send C-MOVE sub-operations over n associations at once\n(default: 4; the extra ones only where the destination\ntakes them within 3 s, else their files go to the others)",
                group: q
            ) { s, o in s.store.receiver.moveAssociations = try o.int(in: 1...32) },
            DCMTKOption(
                nil, "--require-find", [],
                "reject all MOVE/GET presentation contexts for which no\ncorresponding FIND context is proposed",
                group: q
            ) { s, _ in s.store.receiver.requireFind = true },
            DCMTKOption(
                nil, "--no-parallel-store", [],
                "reject multiple simultaneous STORE presentation\ncontexts for one application entity title", group: q
            ) { s, _ in s.store.receiver.storageClaims = StorageClaims() },
            DCMTKOption(
                "-to", "--timeout", ["[s]econds"], "timeout for connection requests (C-MOVE sub-associations)",
                group: "network options"
            ) { s, o in s.store.receiver.moveConnectTimeout = try o.seconds(in: 0.001...Timeouts.longest) },
            DCMTKOption(
                nil, "--max-query-time", ["[s]econds"],
                "end a C-FIND with A700 once it has spent s seconds\nreading the index (default: 120)", group: q
            ) { s, o in s.archive.maxQueryTime = .nanoseconds(try o.seconds(in: 0.000001...86400).nanoseconds) },
            DCMTKOption(nil, "--disable-get", [], "disable C-GET support", group: q) { s, _ in
                s.store.receiver.queryRetrieveGet = false
            },
            DCMTKOption("-QP", "--no-patient-root", [], "do not support Patient Root Q/R models", group: q) { s, _ in
                s.archive.models.remove(.patientRoot)
            },
            DCMTKOption("-QS", "--no-study-root", [], "do not support Study Root Q/R models", group: q) { s, _ in
                s.archive.models.remove(.studyRoot)
            },
            DCMTKOption("-QO", "--no-patient-study", [], "do not support Patient/Study Only Q/R models", group: q) {
                s, _ in s.archive.models.remove(.patientStudyOnly)
            },
            DCMTKOption(
                nil, "--case-sensitive-pn", [],
                "match person names case-sensitively, as dcmqrscp does\n(default: case-insensitive, as most PACS)",
                group: q
            ) { s, _ in s.archive.matcher.caseInsensitiveNames = false },
            DCMTKOption(
                "+Cr", "--use-request-charset", [],
                "convert answers to the request's Specific Character Set,\nelse to the --convert-to-xxx set",
                group: "specific character set"
            ) { s, _ in s.archive.answerCharset = s.answerCharset { $0.useRequestCharset = true } },
            DCMTKOption(
                "-Cr", "--override-charset", [], "convert answers to the --convert-to-xxx set, ignoring the request's",
                group: "specific character set"
            ) { s, _ in s.archive.answerCharset = s.answerCharset { $0.useRequestCharset = false } },
            DCMTKOption(
                "+A7", "--convert-to-ascii", [], "convert answers to 7-bit ASCII", group: "specific character set"
            ) { s, _ in
                s.archive.answerCharset = s.answerCharset { $0.target = .ascii }
            },
            DCMTKOption("+U8", "--convert-to-utf8", [], "convert answers to UTF-8", group: "specific character set") {
                s, _ in
                s.archive.answerCharset = s.answerCharset { $0.target = .utf8 }
            },
            DCMTKOption(
                "+L1", "--convert-to-latin1", [], "convert answers to ISO 8859-1", group: "specific character set"
            ) { s, _ in
                s.archive.answerCharset = s.answerCharset { $0.target = SpecificCharacterSet("ISO_IR 100") }
            },
            DCMTKOption(
                "+C", "--convert-to-charset", ["[c]harset: string"],
                "convert answers to the set of DICOM defined term c\n(one set without code extensions)",
                group: "specific character set"
            ) { s, o in
                let set = SpecificCharacterSet(o.values[0])
                guard set.canEncode else {
                    throw CommandLineError(message: "--convert-to-charset: Ferry cannot encode \(o.values[0])")
                }
                s.archive.answerCharset = s.answerCharset { $0.target = set }
            },
            DCMTKOption(
                "-Ct", "--transliterate", [], "approximate characters the set cannot represent",
                group: "specific character set"
            ) { s, _ in s.archive.answerCharset = s.answerCharset { $0.unrepresentable = .transliterate } },
            DCMTKOption(
                "-Cd", "--discard-illegal", [], "discard characters the set cannot represent",
                group: "specific character set"
            ) { s, _ in s.archive.answerCharset = s.answerCharset { $0.unrepresentable = .discard } },
            DCMTKOption(
                nil, "--sleep-between-responses", ["[s]econds"],
                "test: sleep s seconds before each pending response", group: "test switches"
            ) { s, o in s.store.receiver.faults.sleepBetweenResponses = try o.seconds(in: 0...86400) },
            DCMTKOption(
                nil, "--stall-before-final", ["[s]econds"],
                "test: sleep s seconds before each final response\n(a peer that never ends the operation)",
                group: "test switches"
            ) { s, o in s.store.receiver.faults.stallBeforeFinal = try o.seconds(in: 0...86400) },
            DCMTKOption(
                nil, "--no-pending-responses", [],
                "test: send no pending C-MOVE/C-GET response (they are optional):\nthe requestor hears only the final one",
                group: "test switches"
            ) { s, _ in s.store.receiver.faults.noPendingResponses = true },
            DCMTKOption(
                nil, "--abort-after-responses", ["[n]umber"],
                "test: abort the association after n pending responses (once)", group: "test switches"
            ) { s, o in s.store.receiver.faults.abortAfterResponses = try o.int(in: 0...Int(Int32.max)) },
            DCMTKOption(
                nil, "--retrieve-page", ["[n]umber"],
                "test: read and send a C-MOVE's or C-GET's instances n at a time\n(default: 10000)",
                group: "test switches"
            ) { s, o in s.store.receiver.retrievePage = try o.int(in: 1...1_000_000) },
            DCMTKOption(
                nil, "--cap-results", ["[n]umber"], "test: answer at most n matches, then end with --cap-status",
                group: "test switches"
            ) { s, o in s.store.receiver.faults.capResults = try o.int(in: 0...Int(Int32.max)) },
            DCMTKOption(
                nil, "--cap-status", ["[h]ex"], "test: the status that ends capped results (default: FE00)",
                group: "test switches"
            ) { s, o in
                guard let code = UInt16(o.values[0], radix: 16) else {
                    throw CommandLineError(message: "--cap-status: \(o.values[0]) is not a hex status")
                }
                s.store.receiver.faults.capStatus = DIMSEStatus(code)
            },
            DCMTKOption(
                nil, "--index-only", ["[p]ath"],
                "index the DICOM files under p where they are (no copy) into\nan AE title's area, then exit (repeatable)",
                group: "indexing"
            ) { s, o in s.indexOnly.append(o.values[0]) },
            DCMTKOption(
                nil, "--index-aetitle", ["[a]etitle"],
                "the AE title --index-only indexes for\n(default: the AETable's first)",
                group: "indexing"
            ) { s, o in s.indexAETitle = o.values[0] },
            DCMTKOption(
                nil, "--replace-duplicates", [],
                "a second instance with a stored SOP Instance UID replaces the first\n(default: the first stays, as a migration needs)",
                group: q
            ) { s, _ in s.archive.replaceDuplicates = true },
        ]

    static let commandLine = DCMTKCommandLine(
        tool: "qrscp", synopsis: "DICOM image archive (central test node), compatible with DCMTK dcmqrscp",
        parameters: [("[port]", "tcp/ip port number to listen on (default: in config file)")], options: options)

    static func run(_ arguments: [String]) async -> Int32 {
        let parsed: Settings
        let configuration: QRSCPConfiguration
        switch parse(arguments) {
        case .exit(let code): return code
        case .parsed(let p): (parsed, configuration) = p
        }
        let logger = ConsoleLogHandler.logger("ferry.qrscp", level: parsed.store.common.logLevel)
        if !parsed.indexOnly.isEmpty {
            return indexOnly(parsed, configuration, logger: logger)
        }
        guard let receiver = receiverSettings(parsed, configuration, arguments: arguments, logger: logger) else {
            return 1
        }
        let scp = StorageSCP(settings: receiver, logger: logger)
        let server = Task { try await scp.run() }
        await SignalWait.untilTerminated()
        server.cancel()
        switch await server.result {
        case .failure(let error) where !(error is CancellationError):
            logger.critical("cannot serve on port \(receiver.port): \(error)")
            return 2
        default:
            return 0
        }
    }

    private enum Parsed {
        case exit(Int32)
        case parsed((Settings, QRSCPConfiguration))
    }

    /// The command line and the configuration file read, the port decided; or the exit code.
    private static func parse(_ arguments: [String]) -> Parsed {
        var parsed = Settings()
        do {
            let params = try commandLine.parse(arguments, into: &parsed)
            var common = parsed.store.common
            if try commandLine.answeredGeneralOptions(
                help: common.showHelp, version: common.showVersion, printArguments: common.printArguments,
                arguments: arguments,
                exitCodes:
                    "exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 on a command line or configuration error, 2 if the port cannot be bound",
                versionLine: "ferry qrscp \(FerryVersion.string) (DCMTK dcmqrscp 3.6.9 options)")
            {
                return .exit(0)
            }
            try CommonOptions.finish(&common)
            parsed.store.common = common
            parsed.store.receiver.timeouts = common.timeouts
            guard params.count <= 1 else { throw CommandLineError(message: "expected at most one parameter: port") }
            let configuration = try QRSCPConfiguration(contentsOf: parsed.configPath)
            if !parsed.indexOnly.isEmpty {
                // Indexing needs no port.
            } else if let p = params.first {
                guard let port = Int(p), (0...65535).contains(port) else {
                    throw CommandLineError(message: "port \(p) is not a TCP port")
                }
                parsed.store.receiver.port = port
            } else if let port = configuration.port {
                parsed.store.receiver.port = port
            } else {
                throw CommandLineError(message: "no port: give one or set NetworkTCPPort in \(parsed.configPath)")
            }
            return .parsed((parsed, configuration))
        } catch {
            return .exit(commandLine.usageError(error))
        }
    }

    /// The receiver as an archive: the configuration file's limits where no option overrides
    /// them, the Q/R classes, storage commitment, -xf profiles, TLS. nil after logging why not.
    private static func receiverSettings(
        _ parsed: Settings, _ configuration: QRSCPConfiguration, arguments: [String], logger: Logger
    ) -> ReceiverSettings? {
        var receiver = parsed.store.receiver
        if !arguments.contains(where: { $0 == "-pdu" || $0 == "--max-pdu" }), let pdu = configuration.maxPDUSize {
            receiver.maxReceivePDU = pdu
        }
        if let max = configuration.maxAssociations, !arguments.contains("--max-associations") {
            receiver.limits.maxAssociations = max
        }
        receiver.policy.aeTitle = configuration.areas.first?.aeTitle ?? "QRSCP"
        receiver.policy.queryRetrieveSOPClasses = Set(
            parsed.archive.models.flatMap {
                [$0.sopClass(.find), $0.sopClass(.move)] + (receiver.queryRetrieveGet ? [$0.sopClass(.get)] : [])
            })
        receiver.moveProposal = parsed.outgoing.proposal
        do {
            let archive = try Archive(configuration: configuration, options: parsed.archive, logger: logger)
            receiver.queryRetrieve = archive
            if let service = parsed.store.commitmentService(archive) {
                receiver.commitment = service
                receiver.policy.storageCommitment = true
            }
            if let p = parsed.profiles {
                let file: AssociationConfigFile
                do { file = try AssociationConfigFile(contentsOf: p.path) } catch {
                    logger.critical("cannot read association configuration: \(error)")
                    return nil
                }
                for name in [p.incoming, p.outgoing] where file.profile(name) == nil {
                    logger.critical("profile \(name) not found in \(p.path)")
                    return nil
                }
                receiver.policy.profile = file.profile(p.incoming)
                receiver.moveProposal.profile = file.profile(p.outgoing)
            }
            if parsed.store.common.tlsEnabled {
                // One key, certificate and trust for both directions: incoming associations and
                // the C-MOVE sub-associations (dcmqrscp has no TLS; Ferry's follows storescp's).
                receiver.tls = try parsed.store.common.tls.serverContext()
                receiver.moveTLS = try parsed.store.common.tls.client()
            }
        } catch {
            logger.critical("\(error)")
            return nil
        }
        return receiver
    }

    /// `--index-only`: the files indexed in place, a line per file that could not be, exit 1 if any.
    static func indexOnly(_ parsed: Settings, _ configuration: QRSCPConfiguration, logger: Logger) -> Int32 {
        guard let ae = parsed.indexAETitle ?? configuration.areas.first?.aeTitle else {
            logger.critical("no AE title to index for: the AETable is empty")
            return 1
        }
        do {
            let archive = try Archive(configuration: configuration, options: parsed.archive, logger: logger)
            let report = try archive.indexInPlace(parsed.indexOnly, aeTitle: ae)
            for f in report.failures { logger.error("\(f.path): \(f.reason)") }
            print(
                "indexed \(report.added) instances for \(ae), \(report.duplicates) duplicates kept out, \(report.failures.count) files not indexed"
            )
            return report.failures.isEmpty ? 0 : 1
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }
}
