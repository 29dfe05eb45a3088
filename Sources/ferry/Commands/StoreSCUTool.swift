import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry storescu`: DCMTK storescu's options and exit codes on Ferry's association engine.
enum StoreSCUTool {
    /// What storescu's options set.
    struct Settings {
        var common = CommonOptions.Values()
        var proposal = ProposalOptions()
        var configFile: (path: String, profile: String)?
        var scanDirectories = false, recurse = false
        var pattern: String?
        var haltOnFailure = true, repeatCount = 1, abortAtEnd = false, asyncWindow = 1
        var conversion = DataSetConversion()
        var invention: UIDInvention?
    }

    static let options: [DCMTKOption<Settings>] =
        CommonOptions.general.lifted(\.common) + [
            DCMTKOption(
                "+v", "--verbose-pc", [], "show presentation contexts in verbose mode", group: "general options"
            ) { s, _ in
                s.common.logLevel = min(s.common.logLevel, .info)
                // Ferry detects the layout of each file
            },
            DCMTKOption("+f", "--read-file", [], "read file format or data set (default)", group: "input options") {
                _, _ in
            },
            DCMTKOption("+fo", "--read-file-only", [], "read file format only", group: "input options") { _, _ in },
            DCMTKOption(
                "-f", "--read-dataset", [], "read data set without file meta information", group: "input options"
            ) { _, _ in },
            DCMTKOption(
                "+sd", "--scan-directories", [], "scan directories for input files (dcmfile-in)", group: "input options"
            ) { s, _ in s.scanDirectories = true },
            DCMTKOption(
                "+sp", "--scan-pattern", ["[p]attern"],
                "pattern for filename matching (wildcards)\n(only with --scan-directories)", group: "input options"
            ) { s, o in s.pattern = o.values[0] },
            DCMTKOption("-r", "--no-recurse", [], "do not recurse within directories (default)", group: "input options")
            { s, _ in s.recurse = false },
            DCMTKOption("+r", "--recurse", [], "recurse within specified directories", group: "input options") { s, _ in
                s.recurse = true
            },
        ] + CommonOptions.aeTitles.lifted(\.common) + [
            DCMTKOption(
                "-xf", "--config-file", ["[f]ilename", "[p]rofile"], "use profile p from config file f",
                group: "association negotiation profile from configuration file"
            ) { s, o in s.configFile = (o.values[0], o.values[1]) },
            DCMTKOption(
                "-x=", "--propose-uncompr", [],
                "propose all uncompressed TS, explicit VR\nwith local byte ordering first (default)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .uncompressed },
            DCMTKOption(
                "-xe", "--propose-little", [], "propose all uncompressed TS, explicit VR little endian first",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .little },
            DCMTKOption(
                "-xb", "--propose-big", [], "propose all uncompressed TS, explicit VR big endian first",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .big },
            DCMTKOption(
                "-xi", "--propose-implicit", [], "propose implicit VR little endian TS only",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .implicit },
            DCMTKOption(
                "-xs", "--propose-lossless", [], "propose default JPEG lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .lossless },
            DCMTKOption(
                "-xy", "--propose-jpeg8", [], "propose default JPEG lossy TS for 8 bit data and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .jpeg8 },
            DCMTKOption(
                "-xx", "--propose-jpeg12", [], "propose default JPEG lossy TS for 12 bit data and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .jpeg12 },
            DCMTKOption(
                "-xv", "--propose-j2k-lossless", [], "propose JPEG 2000 lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .j2kLossless },
            DCMTKOption(
                "-xw", "--propose-j2k-lossy", [], "propose JPEG 2000 lossy TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .j2kLossy },
            DCMTKOption(
                "-xt", "--propose-jls-lossless", [], "propose JPEG-LS lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .jlsLossless },
            DCMTKOption(
                "-xu", "--propose-jls-lossy", [], "propose JPEG-LS lossy TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .jlsLossy },
            DCMTKOption(
                "-xr", "--propose-rle", [], "propose RLE lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .rle },
            DCMTKOption(
                "-xd", "--propose-deflated", [],
                "propose deflated explicit VR little endian TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.preference = .deflated },
            DCMTKOption(
                "-R", "--required", [], "propose only required presentation contexts\n(default: propose all supported)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.requiredOnly = true },
            DCMTKOption(
                "+C", "--combine", [],
                "combine proposed transfer syntaxes\n(default: separate pres. context for each TS)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"
            ) { s, _ in s.proposal.combine = true },
            DCMTKOption(
                "+u", "--enable-new-vr", [], "enable support for new VRs (UN/UT) (default)",
                group: "post-1993 value representations"
            ) { s, _ in s.conversion.disableNewVRs = false },
            DCMTKOption(
                "-u", "--disable-new-vr", [], "disable support for new VRs, convert to OB",
                group: "post-1993 value representations"
            ) { s, _ in s.conversion.disableNewVRs = true },
            DCMTKOption(
                "+cl", "--compression-level", ["[l]evel"], "0=uncompressed, 1=fastest, 9=best compression (default: 6)",
                group: "deflate compression level (only with --propose-deflated or --config-file)"
            ) { s, o in
                s.conversion.deflateLevel = Int32(
                    try o.int(in: Int(Deflate.levels.lowerBound)...Int(Deflate.levels.upperBound)))
            },
        ] + CommonOptions.userIdentity.lifted(\.common) + CommonOptions.network.lifted(\.common) + [
            DCMTKOption(nil, "--repeat", ["[n]umber"], "repeat n times", group: "other network options") { s, o in
                s.repeatCount = try o.int(in: 1...Int(Int32.max))
            },
            DCMTKOption(
                nil, "--async-window", ["[n]umber"],
                "send up to n C-STOREs before their responses where the peer\ngrants it (Asynchronous Operations Window; default: 1, none)",
                group: "other network options"
            ) { s, o in s.asyncWindow = try o.int(in: 1...256) },
            DCMTKOption(nil, "--abort", [], "abort association instead of releasing it", group: "other network options")
            { s, _ in s.abortAtEnd = true },
            DCMTKOption(
                "-nh", "--no-halt", [],
                "do not halt if unsuccessful store encountered (default: do halt);\nFerry goes on, on a new association if the peer ended the current one",
                group: "other network options"
            ) { s, _ in s.haltOnFailure = false },
            DCMTKOption(
                "-up", "--uid-padding", [], "silently correct space-padded UIDs (Ferry always does)",
                group: "other network options"
            ) { _, _ in },
            DCMTKOption(
                "+II", "--invent-instance", [], "invent a new SOP instance UID for every image sent",
                group: "other network options"
            ) { s, _ in s.invention = s.invention ?? UIDInvention() },
            DCMTKOption(
                "+IR", "--invent-series", ["[n]umber"], "invent a new series UID after n images (default: 100)",
                group: "other network options"
            ) { s, o in
                var i = s.invention ?? UIDInvention()
                i.inventSeries = true;
                i.imagesPerSeries = try o.int(in: 1...Int(Int32.max))
                s.invention = i
            },
            DCMTKOption(
                "+IS", "--invent-study", ["[n]umber"], "invent a new study UID after n series (default: 50)",
                group: "other network options"
            ) { s, o in
                var i = s.invention ?? UIDInvention()
                i.inventStudy = true;
                i.seriesPerStudy = try o.int(in: 1...Int(Int32.max))
                s.invention = i
            },
            DCMTKOption(
                "+IP", "--invent-patient", ["[n]umber"],
                "invent a new patient ID and name after n studies (default: 25)", group: "other network options"
            ) { s, o in
                var i = s.invention ?? UIDInvention()
                i.inventPatient = true;
                i.studiesPerPatient = try o.int(in: 1...Int(Int32.max))
                s.invention = i
            },
        ] + CommonOptions.tls.lifted(\.common)

    static let commandLine = DCMTKCommandLine(
        tool: "storescu", synopsis: "DICOM storage (C-STORE) SCU, compatible with DCMTK storescu",
        parameters: [
            ("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer"),
            ("dcmfile-in...", "DICOM file or directory to be transmitted"),
        ],
        options: options)

    static let exitCodes = """
        exit codes (as DCMTK storescu 3.6.7):
          0    every file was stored (success or warning status)
          1    command line error, no association (refused, rejected, no accepted context)
          10   a store failed without a status (network error, abort, timeout, no presentation
               context for a file) and --no-halt was not given
          n    a store failed with status s: n = s >> 8 (0xA700 -> 167, 0xC000 -> 192)
          21   no valid input files; 22 some input files were not DICOM (the others were sent)
        """

    static func run(_ arguments: [String]) async -> Int32 {
        var parsed = Settings()
        var params: [String] = []
        let port: Int
        do {
            params = try commandLine.parse(arguments, into: &parsed)
            if try commandLine.answeredGeneralOptions(
                help: parsed.common.showHelp, version: parsed.common.showVersion,
                printArguments: parsed.common.printArguments,
                arguments: arguments, exitCodes: exitCodes,
                versionLine: "ferry storescu \(FerryVersion.string) (DCMTK storescu 3.6.7 options)")
            {
                return 0
            }
            try CommonOptions.finish(&parsed.common)
            guard params.count >= 3 else {
                throw CommandLineError(
                    message: params.count < 2 ? "missing parameter peer/port" : "missing parameter dcmfile-in")
            }
            port = try dcmtkPort(params[1])
        } catch {
            return commandLine.usageError(error)
        }

        let logger = ConsoleLogHandler.logger("ferry.storescu", level: parsed.common.logLevel)
        if let cf = parsed.configFile {
            do {
                let file = try AssociationConfigFile(contentsOf: cf.path)
                guard let profile = file.profile(cf.profile) else {
                    logger.critical("profile \(cf.profile) not found in \(cf.path)")
                    return 1
                }
                parsed.proposal.profile = profile
            } catch {
                logger.critical("cannot read association configuration: \(error)")
                return 1
            }
        }

        // Input files: header-only scan; unreadable and non-DICOM files are reported and skipped.
        let inputs = InputFiles.collect(
            Array(params.dropFirst(2)), scanDirectories: parsed.scanDirectories, recurse: parsed.recurse,
            pattern: parsed.pattern,
            logger: logger)
        if inputs.files.isEmpty {
            logger.critical("no input files to be sent")
            return 21
        }

        var settings = StoreSettings(host: params[0], port: port)
        settings.association = parsed.common.association
        settings.timeouts = parsed.common.timeouts
        settings.proposal = parsed.proposal
        settings.retryPolicy = .dcmtk(halt: parsed.haltOnFailure)
        settings.repeatCount = parsed.repeatCount
        settings.abortInsteadOfRelease = parsed.abortAtEnd
        settings.asyncWindow = parsed.asyncWindow
        if parsed.asyncWindow > 1 {
            settings.association.asyncOperationsWindow = AsyncOperationsWindow(
                maxInvoked: UInt16(parsed.asyncWindow), maxPerformed: 1)
        }
        settings.conversion = parsed.conversion
        settings.invention = parsed.invention
        if parsed.common.tlsEnabled {
            do { settings.tls = try parsed.common.tls.client() } catch {
                logger.critical("\(error)")
                return 1
            }
        }
        let scu = StoreSCU(settings: settings, logger: logger)
        await scu.run(inputs.files)
        let failed = scu.outcomes.filter { !$0.succeeded }.count
        if failed > 0 || inputs.rejected > 0 {
            logger.warning(
                "\(scu.outcomes.count - failed) of \(scu.outcomes.count) stores succeeded; \(failed) failed; \(inputs.rejected) input files were not sendable"
            )
        }
        if scu.exitCode == 0 && inputs.rejected > 0 { return 22 }
        return scu.exitCode
    }
}

/// Resolves storescu's file and directory arguments into sendable files.
enum InputFiles {
    static func collect(
        _ paths: [String], scanDirectories: Bool, recurse: Bool, pattern: String?, logger: Logger
    ) -> (files: [OutgoingFile], rejected: Int) {
        var candidates: [String] = []
        for p in paths {
            if isDirectory(p) {
                guard scanDirectories else {
                    logger.warning("ignoring directory because option --scan-directories is not set: \(p)")
                    continue
                }
                let walker = DirectoryWalker(recursive: recurse, symlinks: .follow)
                var found = walker.files(under: [p]) { logger.error("\($0)") }
                if let pattern { found = found.filter { Wildcard.matches(pattern, basename($0)) } }
                candidates += found.sorted()
            } else {
                candidates.append(p)
            }
        }
        var files: [OutgoingFile] = []
        var rejected = 0
        for (path, result) in zip(candidates, ParallelScan.summaries(candidates)) {
            switch result {
            case .success(let summary):
                do { files.append(try OutgoingFile(summary)) } catch {
                    logger.error("cannot send \(error)")
                    rejected += 1
                }
            case .failure(let e):
                logger.error("\(path): not sendable: \(e.detail)")
                rejected += 1
            }
        }
        return (files, rejected)
    }

    private static func basename(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
