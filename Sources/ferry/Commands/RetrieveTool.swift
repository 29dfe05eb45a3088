import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry movescu` and `ferry getscu`: C-MOVE and C-GET SCUs with DCMTK's options and exit
/// codes. movescu's `+P` starts a storage SCP of its own for the moved instances (`-aem`
/// defaults to the calling AE title); getscu stores what arrives on its association.
enum RetrieveTool {
    enum Mode { case move, get }

    struct Settings {
        var common = CommonOptions.Values()
        var query = QueryOptions.Values()
        var output = StoreOutputOptions()
        var moveDestination: String?
        var listenPort: Int?
        /// How many C-STOREs the archive may send before their responses (an Asynchronous
        /// Operations Window): proposed by getscu (1 proposes none, as DCMTK's getscu), granted
        /// by movescu's storage SCP (1 grants none).
        var asyncWindow = 16
    }

    static func options(_ mode: Mode) -> [DCMTKOption<Settings>] {
        var options =
            (CommonOptions.general + CommonOptions.aeTitles + CommonOptions.userIdentity + CommonOptions.network)
            .lifted(\Settings.common) + QueryOptions.options.lifted(\Settings.query)
            + [
                DCMTKOption(
                    "-od", "--output-directory", ["[d]irectory"], "write received objects to existing directory d",
                    group: "output"
                ) { s, o in s.output.directory = o.values[0] }
            ]
        // getscu proposes the window on its association; movescu's storage SCP (+P) grants it to
        // the archive's sub-associations.
        options.append(
            DCMTKOption(
                nil, "--async-window", ["[n]umber"],
                "let the peer send n C-STOREs before their responses\n(Asynchronous Operations Window; default: 16, 1: none)",
                group: "network options"
            ) { s, o in s.asyncWindow = try o.int(in: 1...Int(UInt16.max)) })
        if mode == .move {
            options += [
                DCMTKOption(
                    "-aem", "--move", ["[a]etitle"], "set move destination to a (default: the calling AE title)",
                    group: "network options"
                ) { s, o in s.moveDestination = o.values[0] },
                DCMTKOption(
                    "+P", "--port", ["[n]umber"], "port number for incoming associations (a storage SCP of its own)",
                    group: "network options"
                ) { s, o in s.listenPort = try o.int(in: 1...65535) },
                DCMTKOption(nil, "--ignore", [], "ignore store data, receive but do not store", group: "output") {
                    s, _ in s.output.ignore = true
                },
            ]
        }
        return options + CommonOptions.tls.lifted(\Settings.common)
    }

    static let moveCommandLine = DCMTKCommandLine(
        tool: "movescu", synopsis: "DICOM retrieve (C-MOVE) SCU, with DCMTK movescu's options",
        parameters: [
            ("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer"),
            ("[dcmfile-in...]", "DICOM query file(s)"),
        ], options: options(.move))

    static let getCommandLine = DCMTKCommandLine(
        tool: "getscu", synopsis: "DICOM retrieve (C-GET) SCU, with DCMTK getscu's options",
        parameters: [
            ("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer"),
            ("[dcmfile-in...]", "DICOM query file(s)"),
        ], options: options(.get))

    static func move(_ arguments: [String]) async -> Int32 { await run(arguments, .move) }
    static func get(_ arguments: [String]) async -> Int32 { await run(arguments, .get) }

    static func run(_ arguments: [String], _ mode: Mode) async -> Int32 {
        let tool = mode == .move ? "movescu" : "getscu"
        var defaults = Settings()
        defaults.common.association.callingAE = mode == .move ? "MOVESCU" : "GETSCU"
        defaults.output.directory = "."
        let parsed: Settings
        let (peer, port, queries): (String, Int, [DataSet])
        switch QueryOptions.parse(
            arguments, with: mode == .move ? moveCommandLine : getCommandLine, into: defaults, common: \.common,
            query: \.query,
            exitCodes: mode == .move
                ? "exit codes: 0 success, 1 command line error, 61 no association, 68 a final warning (B000), 69 a final failure or cancel"
                : "exit codes: 0 success, 1 otherwise",
            versionLine: "ferry \(tool) \(FerryVersion.string) (DCMTK \(tool) 3.6.9 options)")
        {
        case .exit(let code): return code
        case .parsed(let s, let p, let n, let q): (parsed, peer, port, queries) = (s, p, n, q)
        }
        let logger = ConsoleLogHandler.logger("ferry.\(tool)", level: parsed.common.logLevel)
        // Checked before any association, as DCMTK does, not as a refusal of every store.
        if mode == .get || parsed.listenPort != nil, !isDirectory(parsed.output.directory) {
            logger.critical("specified output directory does not exist: \(parsed.output.directory)")
            return 1
        }
        let sopClass = parsed.query.model.sopClass(mode == .move ? .move : .get)
        let receiver = mode == .move ? startReceiver(parsed, logger: logger) : nil
        defer { receiver?.cancel() }
        do {
            let tls = parsed.common.tlsEnabled ? try parsed.common.tls.client() : nil
            logger.info("Requesting Association")
            let association: Association
            do {
                association = try await Association.open(
                    host: peer, port: port, parameters: proposal(parsed, mode, sopClass: sopClass),
                    timeouts: parsed.common.timeouts, tls: tls, logger: logger)
            } catch {
                logger.critical("Association Request Failed: \(error)")
                return mode == .move ? 61 : 1
            }
            logger.info("Association Accepted (Max Send PDV: \(association.sendPDULength - 6))")
            do {
                let exit = try await retrieve(
                    queries, on: association, sopClass: sopClass, parsed, mode, logger: logger)
                logger.info("Releasing Association")
                try await association.release()
                return exit
            } catch {
                logger.critical("\(tool) failed: \(error)")
                await association.abort()
                return 1
            }
        } catch {
            logger.critical("\(error)")
            return 1
        }
    }

    /// The retrieve context; for C-GET also the storage classes the archive may send, each
    /// offered with the SCP role (PS3.4 C.5.3): at most 127 besides the GET context.
    private static func proposal(_ parsed: Settings, _ mode: Mode, sopClass: String) -> AssociationParameters {
        let uncompressed = QueryOptions.uncompressed
        var parameters = parsed.common.association
        parameters.presentationContexts = [
            PresentationContextProposal(id: 1, abstractSyntax: sopClass, transferSyntaxes: uncompressed)
        ]
        guard mode == .get else { return parameters }
        let classes = UIDRegistry.storageSOPClasses.filter { !$0.isRetired }.map(\.uid).prefix(127)
        for (i, c) in classes.enumerated() {
            parameters.presentationContexts.append(
                PresentationContextProposal(id: UInt8(3 + 2 * i), abstractSyntax: c, transferSyntaxes: uncompressed))
            parameters.roleSelections.append(RoleSelection(sopClass: c, scu: false, scp: true))
        }
        if parsed.asyncWindow > 1 {
            parameters.asyncOperationsWindow = AsyncOperationsWindow(
                maxInvoked: 1, maxPerformed: UInt16(clamping: parsed.asyncWindow))
        }
        return parameters
    }

    /// movescu's own storage SCP (+P): accepts every syntax, stores like ferry storescp.
    private static func startReceiver(_ parsed: Settings, logger: Logger) -> Task<Void, Error>? {
        guard let listen = parsed.listenPort else { return nil }
        var settings = ReceiverSettings(port: listen)
        settings.policy.aeTitle = parsed.common.association.callingAE
        settings.policy.preference = .all
        settings.output = parsed.output
        settings.timeouts = parsed.common.timeouts
        settings.asyncWindowGrant = UInt16(clamping: parsed.asyncWindow)
        let scp = StorageSCP(settings: settings, logger: logger)
        return Task { try await scp.run() }
    }

    /// Each query's C-MOVE or C-GET, in turn; the exit code of their final statuses.
    private static func retrieve(
        _ queries: [DataSet], on association: Association, sopClass: String, _ parsed: Settings, _ mode: Mode,
        logger: Logger
    ) async throws -> Int32 {
        var exit: Int32 = 0
        let word = mode == .move ? "Move" : "Get"
        for query in queries {
            let final: RetrieveSCU.Final
            if mode == .move {
                let destination = parsed.moveDestination ?? parsed.common.association.callingAE
                logger.info("Sending Move Request to \(destination)")
                final = try await RetrieveSCU.move(
                    on: association, sopClass: sopClass, destination: destination, identifier: query,
                    cancelAfter: parsed.query.cancelAfter
                ) { n, counts in logger.info("Received Move Response \(n) (Pending): \(counts)") }
            } else {
                logger.info("Sending Get Request")
                final = try await RetrieveSCU.get(
                    on: association, sopClass: sopClass, identifier: query, output: parsed.output,
                    cancelAfter: parsed.query.cancelAfter, logger: logger
                ) { n, counts in logger.info("Received Get Response \(n) (Pending): \(counts)") }
            }
            logger.info(
                "Received Final \(word) Response (\(final.status.hex)): \(final.counts)\(final.failedInstances.isEmpty ? "" : ", failed: \(final.failedInstances.joined(separator: " "))")"
            )
            switch final.status.code {
            case 0x0000: break
            case 0xB000:
                logger.warning("\(word) response with warning status: \(final.counts)")
                if exit == 0 { exit = mode == .move ? 68 : 1 }
            default:
                logger.error("\(word) failed: \(final.status)\(final.errorComment.map { ": \($0)" } ?? "")")
                exit = mode == .move ? 69 : 1
            }
        }
        return exit
    }
}
