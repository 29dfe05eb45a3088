import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry storescu`: DCMTK storescu's options and exit codes on Ferry's association engine.
enum StoreSCUTool {
    static let specs: [OptionSpec] =
        CommonOptions.general + [
            OptionSpec(
                "+v", "--verbose-pc", [], "show presentation contexts in verbose mode", group: "general options"),
            OptionSpec("+f", "--read-file", [], "read file format or data set (default)", group: "input options"),
            OptionSpec("+fo", "--read-file-only", [], "read file format only", group: "input options"),
            OptionSpec(
                "-f", "--read-dataset", [], "read data set without file meta information", group: "input options"),
            OptionSpec(
                "+sd", "--scan-directories", [], "scan directories for input files (dcmfile-in)", group: "input options"
            ),
            OptionSpec(
                "+sp", "--scan-pattern", ["[p]attern"],
                "pattern for filename matching (wildcards)\n(only with --scan-directories)", group: "input options"),
            OptionSpec("-r", "--no-recurse", [], "do not recurse within directories (default)", group: "input options"),
            OptionSpec("+r", "--recurse", [], "recurse within specified directories", group: "input options"),
        ] + CommonOptions.aeTitles + [
            OptionSpec(
                "-xf", "--config-file", ["[f]ilename", "[p]rofile"], "use profile p from config file f",
                group: "association negotiation profile from configuration file"),
            OptionSpec(
                "-x=", "--propose-uncompr", [],
                "propose all uncompressed TS, explicit VR\nwith local byte ordering first (default)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xe", "--propose-little", [], "propose all uncompressed TS, explicit VR little endian first",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xb", "--propose-big", [], "propose all uncompressed TS, explicit VR big endian first",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xi", "--propose-implicit", [], "propose implicit VR little endian TS only",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xs", "--propose-lossless", [], "propose default JPEG lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xy", "--propose-jpeg8", [], "propose default JPEG lossy TS for 8 bit data and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xx", "--propose-jpeg12", [], "propose default JPEG lossy TS for 12 bit data and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xv", "--propose-j2k-lossless", [], "propose JPEG 2000 lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xw", "--propose-j2k-lossy", [], "propose JPEG 2000 lossy TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xt", "--propose-jls-lossless", [], "propose JPEG-LS lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xu", "--propose-jls-lossy", [], "propose JPEG-LS lossy TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xr", "--propose-rle", [], "propose RLE lossless TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-xd", "--propose-deflated", [],
                "propose deflated explicit VR little endian TS and all uncompressed TS",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "-R", "--required", [], "propose only required presentation contexts\n(default: propose all supported)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "+C", "--combine", [],
                "combine proposed transfer syntaxes\n(default: separate pres. context for each TS)",
                group: "proposed transmission transfer syntaxes (not with --config-file)"),
            OptionSpec(
                "+u", "--enable-new-vr", [], "enable support for new VRs (UN/UT) (default)",
                group: "post-1993 value representations"),
            OptionSpec(
                "-u", "--disable-new-vr", [], "disable support for new VRs, convert to OB",
                group: "post-1993 value representations"),
            OptionSpec(
                "+cl", "--compression-level", ["[l]evel"], "0=uncompressed, 1=fastest, 9=best compression (default: 6)",
                group: "deflate compression level (only with --propose-deflated or --config-file)"),
        ] + CommonOptions.userIdentity + CommonOptions.network + [
            OptionSpec(nil, "--repeat", ["[n]umber"], "repeat n times", group: "other network options"),
            OptionSpec(nil, "--abort", [], "abort association instead of releasing it", group: "other network options"),
            OptionSpec(
                "-nh", "--no-halt", [],
                "do not halt if unsuccessful store encountered (default: do halt);\nFerry goes on, on a new association if the peer ended the current one",
                group: "other network options"),
            OptionSpec(
                "-up", "--uid-padding", [], "silently correct space-padded UIDs (Ferry always does)",
                group: "other network options"),
            OptionSpec(
                "+II", "--invent-instance", [], "invent a new SOP instance UID for every image sent",
                group: "other network options"),
            OptionSpec(
                "+IR", "--invent-series", ["[n]umber"], "invent a new series UID after n images (default: 100)",
                group: "other network options"),
            OptionSpec(
                "+IS", "--invent-study", ["[n]umber"], "invent a new study UID after n series (default: 50)",
                group: "other network options"),
            OptionSpec(
                "+IP", "--invent-patient", ["[n]umber"],
                "invent a new patient ID and name after n studies (default: 25)", group: "other network options"),
        ] + CommonOptions.tls

    static let commandLine = DCMTKCommandLine(
        tool: "storescu", synopsis: "DICOM storage (C-STORE) SCU, compatible with DCMTK storescu",
        parameters: [
            ("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer"),
            ("dcmfile-in...", "DICOM file or directory to be transmitted"),
        ],
        specs: specs)

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
        var common = CommonOptions.Values()
        var proposal = ProposalOptions()
        var configFile: (path: String, profile: String)?
        var scanDirectories = false, recurse = false
        var pattern: String?
        var haltOnFailure = true, repeatCount = 1, abortAtEnd = false
        var conversion = DataSetConversion()
        var invention: UIDInvention?
        var params: [String] = []
        let port: Int
        do {
            let parsed = try commandLine.parse(arguments)
            params = parsed.parameters
            for o in parsed.options {
                if try CommonOptions.apply(o, to: &common) { continue }
                switch o.name {
                case "--verbose-pc": common.logLevel = min(common.logLevel, .info)
                // Ferry detects the layout of each file
                case "--read-file", "--read-file-only", "--read-dataset": break
                case "--scan-directories": scanDirectories = true
                case "--scan-pattern": pattern = o.values[0]
                case "--no-recurse": recurse = false
                case "--recurse": recurse = true
                case "--config-file": configFile = (o.values[0], o.values[1])
                case "--propose-uncompr": proposal.preference = .uncompressed
                case "--propose-little": proposal.preference = .little
                case "--propose-big": proposal.preference = .big
                case "--propose-implicit": proposal.preference = .implicit
                case "--propose-lossless": proposal.preference = .lossless
                case "--propose-jpeg8": proposal.preference = .jpeg8
                case "--propose-jpeg12": proposal.preference = .jpeg12
                case "--propose-j2k-lossless": proposal.preference = .j2kLossless
                case "--propose-j2k-lossy": proposal.preference = .j2kLossy
                case "--propose-jls-lossless": proposal.preference = .jlsLossless
                case "--propose-jls-lossy": proposal.preference = .jlsLossy
                case "--propose-rle": proposal.preference = .rle
                case "--propose-deflated": proposal.preference = .deflated
                case "--required": proposal.requiredOnly = true
                case "--combine": proposal.combine = true
                case "--enable-new-vr": conversion.disableNewVRs = false
                case "--disable-new-vr": conversion.disableNewVRs = true
                case "--compression-level":
                    conversion.deflateLevel = Int32(
                        try o.int(in: Int(Deflate.levels.lowerBound)...Int(Deflate.levels.upperBound)))
                case "--repeat": repeatCount = try o.int(in: 1...Int(Int32.max))
                case "--abort": abortAtEnd = true
                case "--no-halt": haltOnFailure = false
                case "--uid-padding": break
                case "--invent-instance": invention = invention ?? UIDInvention()
                case "--invent-series":
                    var i = invention ?? UIDInvention(); i.inventSeries = true;
                    i.imagesPerSeries = try o.int(in: 1...Int(Int32.max)); invention = i
                case "--invent-study":
                    var i = invention ?? UIDInvention(); i.inventStudy = true;
                    i.seriesPerStudy = try o.int(in: 1...Int(Int32.max)); invention = i
                case "--invent-patient":
                    var i = invention ?? UIDInvention(); i.inventPatient = true;
                    i.studiesPerPatient = try o.int(in: 1...Int(Int32.max)); invention = i
                default: throw CommandLineError(message: "option \(o.name) is not handled")
                }
            }
            if try commandLine.answeredGeneralOptions(
                help: common.showHelp, version: common.showVersion, printArguments: common.printArguments,
                arguments: arguments, exitCodes: exitCodes,
                versionLine: "ferry storescu \(FerryVersion.string) (DCMTK storescu 3.6.7 options)")
            {
                return 0
            }
            try CommonOptions.finish(&common)
            guard params.count >= 3 else {
                throw CommandLineError(
                    message: params.count < 2 ? "missing parameter peer/port" : "missing parameter dcmfile-in")
            }
            port = try DCMTKCommandLine.port(params[1])
        } catch {
            return commandLine.usageError(error)
        }

        let logger = ConsoleLogHandler.logger("ferry.storescu", level: common.logLevel)
        if let cf = configFile {
            do {
                let file = try AssociationConfigFile(contentsOf: cf.path)
                guard let profile = file.profile(cf.profile) else {
                    logger.critical("profile \(cf.profile) not found in \(cf.path)")
                    return 1
                }
                proposal.profile = profile
            } catch {
                logger.critical("cannot read association configuration: \(error)")
                return 1
            }
        }

        // Input files: header-only scan; unreadable and non-DICOM files are reported and skipped.
        let inputs = InputFiles.collect(
            Array(params.dropFirst(2)), scanDirectories: scanDirectories, recurse: recurse, pattern: pattern,
            logger: logger)
        if inputs.files.isEmpty {
            logger.critical("no input files to be sent")
            return 21
        }

        var settings = StoreSettings(host: params[0], port: port)
        settings.association = common.association
        settings.timeouts = common.timeouts
        settings.proposal = proposal
        settings.retryPolicy = .dcmtk(halt: haltOnFailure)
        settings.repeatCount = repeatCount
        settings.abortInsteadOfRelease = abortAtEnd
        settings.conversion = conversion
        settings.invention = invention
        if common.tlsEnabled {
            do { settings.tls = try common.tls.clientContext() } catch {
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
                var found = walker.files(under: [p]) { path, reason in logger.error("\(path): \(reason)") }
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
