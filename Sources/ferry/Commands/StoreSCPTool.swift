import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import NIOCore

/// `ferry storescp`: DCMTK storescp's options on Ferry's receiver.
enum StoreSCPTool {
    static let g = "preferred network transfer syntaxes (not with --config-file)"
    /// What storescp's options set.
    struct Settings {
        var common = CommonOptions.Values()
        var receiver = ReceiverSettings(port: 0)
        var configFile: (path: String, profile: String)?
        var commitment = false
        var commitmentReportTo: (host: String, port: Int)?
        var commitmentDelay: TimeAmount = .zero

        /// The storage commitment SCP these options ask for, over `holdings`; nil when none.
        func commitmentService(_ holdings: any CommitmentHoldings) -> CommitmentService? {
            guard commitment else { return nil }
            var service = CommitmentService(holdings: holdings)
            service.delay = commitmentDelay
            if let to = commitmentReportTo { service.reportAddress = { _ in to } }
            return service
        }
    }

    static let options: [DCMTKOption<Settings>] =
        CommonOptions.general.lifted(\.common) + [
            DCMTKOption(
                "+v", "--verbose-pc", [], "show presentation contexts in verbose mode", group: "general options"
            ) { s, _ in s.common.logLevel = min(s.common.logLevel, .info) },
            DCMTKOption(
                nil, "--single-process", [], "single process mode (default; Ferry never forks)",
                group: "general options"
            ) { _, _ in },
            DCMTKOption(
                "-xf", "--config-file", ["[f]ilename", "[p]rofile"], "use profile p from config file f",
                group: "association negotiation profile from configuration file"
            ) { s, o in s.configFile = (o.values[0], o.values[1]) },
            DCMTKOption("+x=", "--prefer-uncompr", [], "prefer explicit VR local byte order (default)", group: g) {
                s, _ in s.receiver.policy.preference = .uncompressed
            },
            DCMTKOption("+xe", "--prefer-little", [], "prefer explicit VR little endian TS", group: g) { s, _ in
                s.receiver.policy.preference = .little
            },
            DCMTKOption("+xb", "--prefer-big", [], "prefer explicit VR big endian TS", group: g) { s, _ in
                s.receiver.policy.preference = .big
            },
            DCMTKOption("+xs", "--prefer-lossless", [], "prefer default JPEG lossless TS", group: g) { s, _ in
                s.receiver.policy.preference = .lossless
            },
            DCMTKOption("+xy", "--prefer-jpeg8", [], "prefer default JPEG lossy TS for 8 bit data", group: g) { s, _ in
                s.receiver.policy.preference = .jpeg8
            },
            DCMTKOption("+xx", "--prefer-jpeg12", [], "prefer default JPEG lossy TS for 12 bit data", group: g) {
                s, _ in s.receiver.policy.preference = .jpeg12
            },
            DCMTKOption("+xv", "--prefer-j2k-lossless", [], "prefer JPEG 2000 lossless TS", group: g) { s, _ in
                s.receiver.policy.preference = .j2kLossless
            },
            DCMTKOption("+xw", "--prefer-j2k-lossy", [], "prefer JPEG 2000 lossy TS", group: g) { s, _ in
                s.receiver.policy.preference = .j2kLossy
            },
            DCMTKOption("+xt", "--prefer-jls-lossless", [], "prefer JPEG-LS lossless TS", group: g) { s, _ in
                s.receiver.policy.preference = .jlsLossless
            },
            DCMTKOption("+xu", "--prefer-jls-lossy", [], "prefer JPEG-LS lossy TS", group: g) { s, _ in
                s.receiver.policy.preference = .jlsLossy
            },
            DCMTKOption("+xr", "--prefer-rle", [], "prefer RLE lossless TS", group: g) { s, _ in
                s.receiver.policy.preference = .rle
            },
            DCMTKOption("+xd", "--prefer-deflated", [], "prefer deflated explicit VR little endian TS", group: g) {
                s, _ in s.receiver.policy.preference = .deflated
            },
            DCMTKOption("+xi", "--implicit", [], "accept implicit VR little endian TS only", group: g) { s, _ in
                s.receiver.policy.preference = .implicit
            },
            DCMTKOption("+xa", "--accept-all", [], "accept all supported transfer syntaxes", group: g) { s, _ in
                s.receiver.policy.preference = .all
            },
            DCMTKOption(
                nil, "--accept-ts", ["[u]ids"],
                "accept exactly these transfer syntaxes (comma-separated UIDs, best first)", group: g
            ) { s, o in
                let uids = o.values[0].split(separator: ",").map { String($0.filter { $0 != " " }) }
                for uid in uids where !UIDGrammar.isValid(uid) {
                    throw CommandLineError(message: "--accept-ts: \(uid) is not a UID")
                }
                s.receiver.policy.acceptedSyntaxes = uids
            },
        ]
        + CommonOptions.network.lifted(\.common).filter {
            ["--socket-timeout", "--acse-timeout", "--dimse-timeout"].contains($0.spec.long)
        }
        + [
            DCMTKOption(
                "-aet", "--aetitle", ["[a]etitle"], "set my AE title (default: STORESCP)",
                group: "other network options"
            ) { s, o in s.receiver.policy.aeTitle = o.values[0] },
            DCMTKOption(
                "-pdu", "--max-pdu", ["[n]umber"], "set max receive pdu to n bytes (4096..131072, default: 16384)",
                group: "other network options"
            ) { s, o in s.receiver.maxReceivePDU = UInt32(try o.int(in: 4096...131072)) },
            DCMTKOption(
                "-dhl", "--disable-host-lookup", [], "disable hostname lookup (Ferry never looks host names up)",
                group: "other network options"
            ) { _, _ in },
            DCMTKOption(nil, "--refuse", [], "refuse association", group: "other network options") { s, _ in
                s.receiver.policy.refuseAll = true
            },
            DCMTKOption(
                nil, "--reject", [], "reject association if no implementation class UID", group: "other network options"
            ) { s, _ in s.receiver.policy.rejectWithoutImplementationUID = true },
            DCMTKOption(
                nil, "--ignore", [], "ignore store data, receive but do not store", group: "other network options"
            ) { s, _ in s.receiver.output.ignore = true },
            DCMTKOption(
                nil, "--sleep-after", ["[s]econds"], "sleep s seconds after store (default: 0)",
                group: "other network options"
            ) { s, o in s.receiver.faults.sleepAfter = try o.seconds(in: 0...86400) },
            DCMTKOption(
                nil, "--sleep-during", ["[s]econds"], "sleep s seconds during store (default: 0)",
                group: "other network options"
            ) { s, o in s.receiver.faults.sleepDuring = try o.seconds(in: 0...86400) },
            DCMTKOption(
                nil, "--abort-after", [],
                "abort association after receipt of C-STORE-RQ\n(but before sending response)",
                group: "other network options"
            ) { s, _ in s.receiver.faults.abortAfter = true },
            DCMTKOption(
                nil, "--abort-during", [], "abort association during receipt of C-STORE-RQ",
                group: "other network options"
            ) { s, _ in s.receiver.faults.abortDuring = true },
            DCMTKOption(
                nil, "--status", ["[h]ex"],
                "answer every C-STORE-RQ with status h (e.g. A700); stores only on success/warning",
                group: "other network options"
            ) { s, o in
                guard let code = UInt16(o.values[0].replacingOccurrences0x(), radix: 16) else {
                    throw CommandLineError(message: "--status: \(o.values[0]) is not a hex status")
                }
                s.receiver.faults.status = DIMSEStatus(code)
            },
            DCMTKOption(
                nil, "--async-window", ["[n]umber"],
                "grant a requestor's Asynchronous Operations Window up to n\noperations each way (default: 16; stores are served in order)",
                group: "other network options"
            ) { s, o in s.receiver.asyncWindowGrant = UInt16(try o.int(in: 1...Int(UInt16.max))) },
            DCMTKOption(
                nil, "--abort-after-storing", ["[n]umber"],
                "test: store the n-th instance received, then abort\nbefore its response (once)",
                group: "other network options"
            ) { s, o in s.receiver.faults.abortAfterStoring = try o.int(in: 1...Int(Int32.max)) },
            DCMTKOption(
                nil, "--block-storage", ["[s]econds"],
                "test: the first store's write (file and index) blocks its\nthread s seconds, as a stalled disk would",
                group: "other network options"
            ) { s, o in s.receiver.faults.blockStorage = try o.seconds(in: 0...86400) },
            DCMTKOption(
                nil, "--storage-commitment", [],
                "serve Storage Commitment Push Model as SCP for the instances\nheld; reports on the requesting association",
                group: "storage commitment"
            ) { s, _ in s.commitment = true },
            DCMTKOption(
                nil, "--commitment-report-to", ["[h]ost:[p]ort"],
                "send reports on a new association to host:port, called as the\nrequestor's calling AE (implies --storage-commitment)",
                group: "storage commitment"
            ) { s, o in
                let v = o.values[0]
                guard let colon = v.lastIndex(of: ":"), let port = Int(v[v.index(after: colon)...]),
                    (1...65535).contains(port), colon > v.startIndex
                else { throw CommandLineError(message: "--commitment-report-to: \(v) is not host:port") }
                s.commitment = true
                var host = Substring(v[..<colon])
                if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
                s.commitmentReportTo = (String(host), port)
            },
            DCMTKOption(
                nil, "--commitment-delay", ["[s]econds"], "test: send each report s seconds after its request",
                group: "storage commitment"
            ) { s, o in s.commitmentDelay = try o.seconds(in: 0...86400) },
            DCMTKOption(
                "-pm", "--promiscuous", [], "promiscuous mode, accept unknown SOP classes",
                group: "other network options"
            ) { s, _ in s.receiver.policy.promiscuous = true },
            DCMTKOption(
                "-up", "--uid-padding", [], "silently correct space-padded UIDs (Ferry always does)",
                group: "other network options"
            ) { _, _ in },
            DCMTKOption(
                nil, "--max-associations", ["[n]umber"],
                "serve at most n associations at once; more are rejected\n(transient, local limit exceeded) (default: 128)",
                group: "limits"
            ) { s, o in s.receiver.limits.maxAssociations = try o.int(in: 1...65535) },
            DCMTKOption(
                nil, "--max-associations-per-host", ["[n]umber"],
                "serve at most n associations at once from one host (default: no limit of its own)",
                group: "limits"
            ) { s, o in s.receiver.limits.maxAssociationsPerHost = try o.int(in: 1...65535) },
            DCMTKOption(
                nil, "--max-instance-size", ["[s]ize"],
                "refuse instances larger than s (bytes, or K, M, G, T) with 0xA700\n(default: 16G)",
                group: "limits"
            ) { s, o in
                guard let bytes = ByteCount.parse(o.values[0]) else {
                    throw CommandLineError(message: "--max-instance-size: \(o.values[0]) is not a size")
                }
                s.receiver.limits.maxInstanceBytes = bytes
            },
            DCMTKOption(
                nil, "--max-store-time", ["[s]econds"],
                "abort an association whose store takes longer than s seconds\nfrom command to last fragment (default: 3600)",
                group: "limits"
            ) { s, o in s.receiver.limits.storeTime = try o.seconds(in: 0.1...86400 * 7) },
            DCMTKOption(
                nil, "--bind", ["[a]ddress"],
                "listen on this address (default 0.0.0.0; :: takes IPv6 and IPv4)", group: "access control"
            ) { s, o in s.receiver.host = o.values[0] },
            DCMTKOption(
                nil, "--allow", ["[a]etitle[@host]"],
                "accept only these calling AE titles (repeatable); others are rejected\n(calling AE not recognized), and the called AE must be ours",
                group: "access control"
            ) { s, o in
                let parts = o.values[0].split(separator: "@", maxSplits: 1).map(String.init)
                let peer = AcceptancePolicy.Peer(aeTitle: parts[0], host: parts.count > 1 ? parts[1] : nil)
                s.receiver.policy.allowedPeers = (s.receiver.policy.allowedPeers ?? []) + [peer]
            },
            DCMTKOption(
                "-od", "--output-directory", ["[d]irectory"],
                "write received objects to existing directory d (default: .)", group: "output"
            ) { s, o in s.receiver.output.directory = o.values[0] },
            DCMTKOption("-B", "--normal", [], "allow implicit format conversions (default)", group: "output") { _, _ in
            },
            DCMTKOption("+B", "--bit-preserving", [], "write data exactly as read", group: "output") { s, _ in
                s.receiver.output.bitPreserving = true
            },
            DCMTKOption("+F", "--write-file", [], "write file format (default)", group: "output") { s, _ in
                s.receiver.output.writeFileFormat = true
            },
            DCMTKOption("-F", "--write-dataset", [], "write data set without file meta information", group: "output") {
                s, _ in s.receiver.output.writeFileFormat = false
            },
            DCMTKOption("+t=", "--write-xfer-same", [], "write with same TS as input (default)", group: "output") {
                s, _ in s.receiver.output.outputSyntax = .same
            },
            DCMTKOption("+te", "--write-xfer-little", [], "write with explicit VR little endian TS", group: "output") {
                s, _ in s.receiver.output.outputSyntax = .little
            },
            DCMTKOption("+tb", "--write-xfer-big", [], "write with explicit VR big endian TS", group: "output") {
                s, _ in s.receiver.output.outputSyntax = .big
            },
            DCMTKOption("+ti", "--write-xfer-implicit", [], "write with implicit VR little endian TS", group: "output")
            { s, _ in s.receiver.output.outputSyntax = .implicit },
            DCMTKOption(
                "+td", "--write-xfer-deflated", [], "write with deflated explicit VR little endian TS", group: "output"
            ) { s, _ in s.receiver.output.outputSyntax = .deflated },
            DCMTKOption("+u", "--enable-new-vr", [], "enable support for new VRs (UN/UT) (default)", group: "output") {
                s, _ in s.receiver.output.disableNewVRs = false
            },
            DCMTKOption("-u", "--disable-new-vr", [], "disable support for new VRs, convert to OB", group: "output") {
                s, _ in s.receiver.output.disableNewVRs = true
            },
            DCMTKOption(
                "+cl", "--compression-level", ["[l]evel"], "0=uncompressed, 1=fastest, 9=best compression (default: 6)",
                group: "output"
            ) { s, o in
                s.receiver.output.deflateLevel = Int32(
                    try o.int(in: Int(Deflate.levels.lowerBound)...Int(Deflate.levels.upperBound)))
            },
            DCMTKOption(
                nil, "--fsync", [], "make every file durable (fsync) before the success response", group: "output"
            ) { s, _ in s.receiver.output.fsync = true },
            DCMTKOption(
                "-ss", "--sort-conc-studies", ["[p]refix"], "sort studies using prefix p and a timestamp",
                group: "sorting into subdirectories"
            ) { s, o in s.receiver.output.sorting = .concurrentStudies(prefix: try safePrefix(o.values[0])) },
            DCMTKOption(
                "-su", "--sort-on-study-uid", ["[p]refix"], "sort studies using prefix p and the Study Instance UID",
                group: "sorting into subdirectories"
            ) { s, o in s.receiver.output.sorting = .studyUID(prefix: try safePrefix(o.values[0])) },
            DCMTKOption(
                "-sp", "--sort-on-patientname", [], "sort studies using the Patient's Name and a timestamp",
                group: "sorting into subdirectories"
            ) { s, _ in s.receiver.output.sorting = .patientName },
            DCMTKOption(
                "-uf", "--default-filenames", [], "generate filename from instance UID (default)",
                group: "filename generation"
            ) { s, _ in s.receiver.output.naming = .uid },
            DCMTKOption("+uf", "--unique-filenames", [], "generate unique filenames", group: "filename generation") {
                s, _ in s.receiver.output.naming = .unique
            },
            DCMTKOption("-tn", "--timenames", [], "generate filename from creation time", group: "filename generation")
            { s, _ in s.receiver.output.naming = .time },
            DCMTKOption(
                "-fe", "--filename-extension", ["[e]xtension"], "append e to all filenames",
                group: "filename generation"
            ) { s, o in s.receiver.output.fileExtension = try safePrefix(o.values[0]) },
            DCMTKOption(
                "-xcr", "--exec-on-reception", ["[c]ommand"],
                "execute command c after having received and processed\none C-STORE-RQ message (#p #f #a #c #r)",
                group: "event handling"
            ) { s, o in s.receiver.hooks.onReception = o.values[0] },
            DCMTKOption(
                "-xcs", "--exec-on-eostudy", ["[c]ommand"],
                "execute command c after all C-STORE-RQ messages of one\nstudy (#p #a #c #r)", group: "event handling"
            ) { s, o in s.receiver.hooks.onEndOfStudy = o.values[0] },
            DCMTKOption(
                "-rns", "--rename-on-eostudy", [], "rename a completed study's files to <prefix><6 digits>",
                group: "event handling"
            ) { s, _ in s.receiver.hooks.renameOnEndOfStudy = true },
            DCMTKOption(
                "-tos", "--eostudy-timeout", ["[t]imeout"], "end of study after t seconds without reception",
                group: "event handling"
            ) { s, o in s.receiver.hooks.endOfStudyTimeout = try o.seconds(in: 0.001...Timeouts.longest) },
            DCMTKOption(
                "-xs", "--exec-sync", [], "execute command synchronously in foreground", group: "event handling"
            ) { s, _ in s.receiver.hooks.synchronous = true },
        ] + CommonOptions.tls.lifted(\.common).filter { !["--anonymous-tls"].contains($0.spec.long) }

    static let commandLine = DCMTKCommandLine(
        tool: "storescp", synopsis: "DICOM storage (C-STORE) SCP, compatible with DCMTK storescp",
        parameters: [("port", "tcp/ip port number to listen on")], options: options)

    static func run(_ arguments: [String]) async -> Int32 {
        var parsed = Settings()
        var params: [String] = []
        do {
            params = try commandLine.parse(arguments, into: &parsed)
            if try commandLine.answeredGeneralOptions(
                help: parsed.common.showHelp, version: parsed.common.showVersion,
                printArguments: parsed.common.printArguments,
                arguments: arguments,
                exitCodes:
                    "exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 on a command line error, 2 if the port cannot be bound",
                versionLine: "ferry storescp \(FerryVersion.string) (DCMTK storescp 3.6.9 options)")
            {
                return 0
            }
            try CommonOptions.finish(&parsed.common)
            parsed.receiver.timeouts = parsed.common.timeouts
            guard params.count == 1, let port = Int(params[0]), (0...65535).contains(port) else {
                throw CommandLineError(message: "expected one parameter: port")
            }
            parsed.receiver.port = port
            if parsed.receiver.hooks.renameOnEndOfStudy, parsed.receiver.output.sorting == .none {
                throw CommandLineError(message: "--rename-on-eostudy needs one of the --sort-xxx options")
            }
            if parsed.receiver.output.bitPreserving {
                parsed.receiver.output.outputSyntax = .same; parsed.receiver.output.disableNewVRs = false
            }
        } catch {
            return commandLine.usageError(error)
        }
        let logger = ConsoleLogHandler.logger("ferry.storescp", level: parsed.common.logLevel)
        if !isDirectory(parsed.receiver.output.directory) {
            logger.critical("output directory does not exist: \(parsed.receiver.output.directory)")
            return 1
        }
        if let cf = parsed.configFile {
            do {
                guard let profile = try AssociationConfigFile(contentsOf: cf.path).profile(cf.profile) else {
                    logger.critical("profile \(cf.profile) not found in \(cf.path)")
                    return 1
                }
                parsed.receiver.policy.profile = profile
            } catch {
                logger.critical("cannot read association configuration: \(error)")
                return 1
            }
        }
        if parsed.common.tlsEnabled {
            do { parsed.receiver.tls = try parsed.common.tls.serverContext() } catch {
                logger.critical("\(error)")
                return 1
            }
        }
        if let service = parsed.commitmentService(ReceivedInstances()) {
            parsed.receiver.commitment = service
            parsed.receiver.policy.storageCommitment = true
        }
        let scp = StorageSCP(settings: parsed.receiver, logger: logger)
        let server = Task { try await scp.run() }
        await SignalWait.untilTerminated()
        server.cancel()
        switch await server.result {
        case .failure(let error) where !(error is CancellationError):
            logger.critical("cannot serve on port \(parsed.receiver.port): \(error)")
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
