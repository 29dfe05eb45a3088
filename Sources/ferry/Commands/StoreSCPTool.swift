import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import NIOCore

/// `ferry storescp`: DCMTK storescp's options on Ferry's receiver.
enum StoreSCPTool {
    static let g = "preferred network transfer syntaxes (not with --config-file)"
    static let specs: [OptionSpec] =
        CommonOptions.general + [
            OptionSpec(
                "+v", "--verbose-pc", [], "show presentation contexts in verbose mode", group: "general options"),
            OptionSpec(
                nil, "--single-process", [], "single process mode (default; Ferry never forks)",
                group: "general options"),
            OptionSpec(
                "-xf", "--config-file", ["[f]ilename", "[p]rofile"], "use profile p from config file f",
                group: "association negotiation profile from configuration file"),
            OptionSpec("+x=", "--prefer-uncompr", [], "prefer explicit VR local byte order (default)", group: g),
            OptionSpec("+xe", "--prefer-little", [], "prefer explicit VR little endian TS", group: g),
            OptionSpec("+xb", "--prefer-big", [], "prefer explicit VR big endian TS", group: g),
            OptionSpec("+xs", "--prefer-lossless", [], "prefer default JPEG lossless TS", group: g),
            OptionSpec("+xy", "--prefer-jpeg8", [], "prefer default JPEG lossy TS for 8 bit data", group: g),
            OptionSpec("+xx", "--prefer-jpeg12", [], "prefer default JPEG lossy TS for 12 bit data", group: g),
            OptionSpec("+xv", "--prefer-j2k-lossless", [], "prefer JPEG 2000 lossless TS", group: g),
            OptionSpec("+xw", "--prefer-j2k-lossy", [], "prefer JPEG 2000 lossy TS", group: g),
            OptionSpec("+xt", "--prefer-jls-lossless", [], "prefer JPEG-LS lossless TS", group: g),
            OptionSpec("+xu", "--prefer-jls-lossy", [], "prefer JPEG-LS lossy TS", group: g),
            OptionSpec("+xr", "--prefer-rle", [], "prefer RLE lossless TS", group: g),
            OptionSpec("+xd", "--prefer-deflated", [], "prefer deflated explicit VR little endian TS", group: g),
            OptionSpec("+xi", "--implicit", [], "accept implicit VR little endian TS only", group: g),
            OptionSpec("+xa", "--accept-all", [], "accept all supported transfer syntaxes", group: g),
            OptionSpec(
                nil, "--accept-ts", ["[u]ids"],
                "accept exactly these transfer syntaxes (comma-separated UIDs, best first)", group: g),
        ]
        + CommonOptions.network.filter { ["--socket-timeout", "--acse-timeout", "--dimse-timeout"].contains($0.long) }
        + [
            OptionSpec(
                "-aet", "--aetitle", ["[a]etitle"], "set my AE title (default: STORESCP)",
                group: "other network options"),
            OptionSpec(
                "-pdu", "--max-pdu", ["[n]umber"], "set max receive pdu to n bytes (4096..131072, default: 16384)",
                group: "other network options"),
            OptionSpec(
                "-dhl", "--disable-host-lookup", [], "disable hostname lookup (Ferry never looks host names up)",
                group: "other network options"),
            OptionSpec(nil, "--refuse", [], "refuse association", group: "other network options"),
            OptionSpec(
                nil, "--reject", [], "reject association if no implementation class UID", group: "other network options"
            ),
            OptionSpec(
                nil, "--ignore", [], "ignore store data, receive but do not store", group: "other network options"),
            OptionSpec(
                nil, "--sleep-after", ["[s]econds"], "sleep s seconds after store (default: 0)",
                group: "other network options"),
            OptionSpec(
                nil, "--sleep-during", ["[s]econds"], "sleep s seconds during store (default: 0)",
                group: "other network options"),
            OptionSpec(
                nil, "--abort-after", [],
                "abort association after receipt of C-STORE-RQ\n(but before sending response)",
                group: "other network options"),
            OptionSpec(
                nil, "--abort-during", [], "abort association during receipt of C-STORE-RQ",
                group: "other network options"),
            OptionSpec(
                nil, "--status", ["[h]ex"],
                "answer every C-STORE-RQ with status h (e.g. A700); stores only on success/warning",
                group: "other network options"),
            OptionSpec(
                "-pm", "--promiscuous", [], "promiscuous mode, accept unknown SOP classes",
                group: "other network options"),
            OptionSpec(
                "-up", "--uid-padding", [], "silently correct space-padded UIDs (Ferry always does)",
                group: "other network options"),
            OptionSpec(
                nil, "--allow", ["[a]etitle[@host]"],
                "accept only these calling AE titles (repeatable); others are rejected\n(calling AE not recognized), and the called AE must be ours",
                group: "access control"),
            OptionSpec(
                "-od", "--output-directory", ["[d]irectory"],
                "write received objects to existing directory d (default: .)", group: "output"),
            OptionSpec("-B", "--normal", [], "allow implicit format conversions (default)", group: "output"),
            OptionSpec("+B", "--bit-preserving", [], "write data exactly as read", group: "output"),
            OptionSpec("+F", "--write-file", [], "write file format (default)", group: "output"),
            OptionSpec("-F", "--write-dataset", [], "write data set without file meta information", group: "output"),
            OptionSpec("+t=", "--write-xfer-same", [], "write with same TS as input (default)", group: "output"),
            OptionSpec("+te", "--write-xfer-little", [], "write with explicit VR little endian TS", group: "output"),
            OptionSpec("+tb", "--write-xfer-big", [], "write with explicit VR big endian TS", group: "output"),
            OptionSpec("+ti", "--write-xfer-implicit", [], "write with implicit VR little endian TS", group: "output"),
            OptionSpec(
                "+td", "--write-xfer-deflated", [], "write with deflated explicit VR little endian TS", group: "output"),
            OptionSpec("+u", "--enable-new-vr", [], "enable support for new VRs (UN/UT) (default)", group: "output"),
            OptionSpec("-u", "--disable-new-vr", [], "disable support for new VRs, convert to OB", group: "output"),
            OptionSpec(
                "+cl", "--compression-level", ["[l]evel"], "0=uncompressed, 1=fastest, 9=best compression (default: 6)",
                group: "output"),
            OptionSpec(
                nil, "--fsync", [], "make every file durable (fsync) before the success response", group: "output"),
            OptionSpec(
                "-ss", "--sort-conc-studies", ["[p]refix"], "sort studies using prefix p and a timestamp",
                group: "sorting into subdirectories"),
            OptionSpec(
                "-su", "--sort-on-study-uid", ["[p]refix"], "sort studies using prefix p and the Study Instance UID",
                group: "sorting into subdirectories"),
            OptionSpec(
                "-sp", "--sort-on-patientname", [], "sort studies using the Patient's Name and a timestamp",
                group: "sorting into subdirectories"),
            OptionSpec(
                "-uf", "--default-filenames", [], "generate filename from instance UID (default)",
                group: "filename generation"),
            OptionSpec("+uf", "--unique-filenames", [], "generate unique filenames", group: "filename generation"),
            OptionSpec("-tn", "--timenames", [], "generate filename from creation time", group: "filename generation"),
            OptionSpec(
                "-fe", "--filename-extension", ["[e]xtension"], "append e to all filenames",
                group: "filename generation"),
            OptionSpec(
                "-xcr", "--exec-on-reception", ["[c]ommand"],
                "execute command c after having received and processed\none C-STORE-RQ message (#p #f #a #c #r)",
                group: "event handling"),
            OptionSpec(
                "-xcs", "--exec-on-eostudy", ["[c]ommand"],
                "execute command c after all C-STORE-RQ messages of one\nstudy (#p #a #c #r)", group: "event handling"),
            OptionSpec(
                "-rns", "--rename-on-eostudy", [], "rename a completed study's files to <prefix><6 digits>",
                group: "event handling"),
            OptionSpec(
                "-tos", "--eostudy-timeout", ["[t]imeout"], "end of study after t seconds without reception",
                group: "event handling"),
            OptionSpec(
                "-xs", "--exec-sync", [], "execute command synchronously in foreground", group: "event handling"),
        ] + CommonOptions.tls.filter { !["--anonymous-tls"].contains($0.long) }

    static let commandLine = DCMTKCommandLine(
        tool: "storescp", synopsis: "DICOM storage (C-STORE) SCP, compatible with DCMTK storescp",
        parameters: [("port", "tcp/ip port number to listen on")], specs: specs)

    static func run(_ arguments: [String]) async -> Int32 {
        var common = CommonOptions.Values()
        var settings = ReceiverSettings(port: 0)
        var configFile: (path: String, profile: String)?
        var params: [String] = []
        do {
            let parsed = try commandLine.parse(arguments)
            params = parsed.parameters
            for o in parsed.options {
                // The timeouts are storescu's (CommonOptions); -aet and -pdu mean ours here.
                if o.name != "--aetitle", o.name != "--max-pdu", try CommonOptions.apply(o, to: &common) {
                    continue
                }
                switch o.name {
                case "--verbose-pc": common.logLevel = min(common.logLevel, .info)
                case "--single-process", "--disable-host-lookup", "--uid-padding", "--normal": break
                case "--config-file": configFile = (o.values[0], o.values[1])
                case "--prefer-uncompr": settings.policy.preference = .uncompressed
                case "--prefer-little": settings.policy.preference = .little
                case "--prefer-big": settings.policy.preference = .big
                case "--prefer-lossless": settings.policy.preference = .lossless
                case "--prefer-jpeg8": settings.policy.preference = .jpeg8
                case "--prefer-jpeg12": settings.policy.preference = .jpeg12
                case "--prefer-j2k-lossless": settings.policy.preference = .j2kLossless
                case "--prefer-j2k-lossy": settings.policy.preference = .j2kLossy
                case "--prefer-jls-lossless": settings.policy.preference = .jlsLossless
                case "--prefer-jls-lossy": settings.policy.preference = .jlsLossy
                case "--prefer-rle": settings.policy.preference = .rle
                case "--prefer-deflated": settings.policy.preference = .deflated
                case "--implicit": settings.policy.preference = .implicit
                case "--accept-all": settings.policy.preference = .all
                case "--accept-ts":
                    let uids = o.values[0].split(separator: ",").map { String($0.filter { $0 != " " }) }
                    for uid in uids where !UIDGrammar.isValid(uid) {
                        throw CommandLineError(message: "--accept-ts: \(uid) is not a UID")
                    }
                    settings.policy.acceptedSyntaxes = uids
                case "--aetitle": settings.policy.aeTitle = o.values[0]
                case "--max-pdu": settings.maxReceivePDU = UInt32(try o.int(in: 4096...131072))
                case "--refuse": settings.policy.refuseAll = true
                case "--reject": settings.policy.rejectWithoutImplementationUID = true
                case "--ignore": settings.output.ignore = true
                case "--sleep-after": settings.switches.sleepAfter = try o.seconds(in: 0...86400)
                case "--sleep-during": settings.switches.sleepDuring = try o.seconds(in: 0...86400)
                case "--abort-after": settings.switches.abortAfter = true
                case "--abort-during": settings.switches.abortDuring = true
                case "--status":
                    guard let code = UInt16(o.values[0].replacingOccurrences0x(), radix: 16) else {
                        throw CommandLineError(message: "--status: \(o.values[0]) is not a hex status")
                    }
                    settings.switches.status = DIMSEStatus(code)
                case "--promiscuous": settings.policy.promiscuous = true
                case "--allow":
                    let parts = o.values[0].split(separator: "@", maxSplits: 1).map(String.init)
                    let peer = AcceptancePolicy.Peer(aeTitle: parts[0], host: parts.count > 1 ? parts[1] : nil)
                    settings.policy.allowedPeers = (settings.policy.allowedPeers ?? []) + [peer]
                case "--output-directory": settings.output.directory = o.values[0]
                case "--bit-preserving": settings.output.bitPreserving = true
                case "--write-file": settings.output.writeFileFormat = true
                case "--write-dataset": settings.output.writeFileFormat = false
                case "--write-xfer-same": settings.output.outputSyntax = .same
                case "--write-xfer-little": settings.output.outputSyntax = .little
                case "--write-xfer-big": settings.output.outputSyntax = .big
                case "--write-xfer-implicit": settings.output.outputSyntax = .implicit
                case "--write-xfer-deflated": settings.output.outputSyntax = .deflated
                case "--enable-new-vr": settings.output.disableNewVRs = false
                case "--disable-new-vr": settings.output.disableNewVRs = true
                case "--compression-level":
                    settings.output.deflateLevel = Int32(
                        try o.int(in: Int(Deflate.levels.lowerBound)...Int(Deflate.levels.upperBound)))
                case "--fsync": settings.output.fsync = true
                case "--sort-conc-studies":
                    settings.output.sorting = .concurrentStudies(prefix: try safePrefix(o.values[0]))
                case "--sort-on-study-uid": settings.output.sorting = .studyUID(prefix: try safePrefix(o.values[0]))
                case "--sort-on-patientname": settings.output.sorting = .patientName
                case "--default-filenames": settings.output.naming = .uid
                case "--unique-filenames": settings.output.naming = .unique
                case "--timenames": settings.output.naming = .time
                case "--filename-extension": settings.output.fileExtension = try safePrefix(o.values[0])
                case "--exec-on-reception": settings.hooks.onReception = o.values[0]
                case "--exec-on-eostudy": settings.hooks.onEndOfStudy = o.values[0]
                case "--rename-on-eostudy": settings.hooks.renameOnEndOfStudy = true
                case "--eostudy-timeout": settings.hooks.endOfStudyTimeout = try o.seconds(in: 0.001...Timeouts.longest)
                case "--exec-sync": settings.hooks.synchronous = true
                default: throw CommandLineError(message: "option \(o.name) is not handled")
                }
            }
            if try commandLine.answeredGeneralOptions(
                help: common.showHelp, version: common.showVersion, printArguments: common.printArguments,
                arguments: arguments,
                exitCodes:
                    "exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 on a command line error, 2 if the port cannot be bound",
                versionLine: "ferry storescp \(FerryVersion.string) (DCMTK storescp 3.6.9 options)")
            {
                return 0
            }
            try CommonOptions.finish(&common)
            settings.timeouts = common.timeouts
            guard params.count == 1, let port = Int(params[0]), (0...65535).contains(port) else {
                throw CommandLineError(message: "expected one parameter: port")
            }
            settings.port = port
            if settings.hooks.renameOnEndOfStudy, settings.output.sorting == .none {
                throw CommandLineError(message: "--rename-on-eostudy needs one of the --sort-xxx options")
            }
            if settings.output.bitPreserving {
                settings.output.outputSyntax = .same; settings.output.disableNewVRs = false
            }
        } catch {
            return commandLine.usageError(error)
        }
        let logger = ConsoleLogHandler.logger("ferry.storescp", level: common.logLevel)
        if !isDirectory(settings.output.directory) {
            logger.critical("output directory does not exist: \(settings.output.directory)")
            return 1
        }
        if let cf = configFile {
            do {
                guard let profile = try AssociationConfigFile(contentsOf: cf.path).profile(cf.profile) else {
                    logger.critical("profile \(cf.profile) not found in \(cf.path)")
                    return 1
                }
                settings.policy.profile = profile
            } catch {
                logger.critical("cannot read association configuration: \(error)")
                return 1
            }
        }
        if common.tlsEnabled {
            do { settings.tls = try common.tls.serverContext() } catch {
                logger.critical("\(error)")
                return 1
            }
        }
        let scp = StorageSCP(settings: settings, logger: logger)
        let server = Task { try await scp.run() }
        await SignalWait.untilTerminated()
        server.cancel()
        switch await server.result {
        case .failure(let error) where !(error is CancellationError):
            logger.critical("cannot serve on port \(settings.port): \(error)")
            return 2
        default:
            return 0
        }
    }

    /// Prefixes and extensions become parts of file names: no path separators, no "..".
    static func safePrefix(_ s: String) throws(CommandLineError) -> String {
        guard !s.contains("/"), !s.contains("\0"), s != ".", s != ".." else {
            throw CommandLineError(message: "\"\(s)\" cannot be part of a file name")
        }
        return s
    }
}

private extension String {
    func replacingOccurrences0x() -> String { hasPrefix("0x") || hasPrefix("0X") ? String(dropFirst(2)) : self }
}
