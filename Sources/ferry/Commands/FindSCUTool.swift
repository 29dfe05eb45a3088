import FerryDICOM
import FerryNetwork
import FerryServices
import Logging

/// `ferry findscu`: C-FIND SCU with DCMTK findscu's options and exit codes (0 when the
/// queries ran, whatever their final status; 1 a command line or query file error; 2 no
/// association), and `--json` for the DICOM JSON model of the responses.
enum FindSCUTool {
    struct Settings {
        var common = CommonOptions.Values()
        var query = QueryOptions.Values()
        var extract = false
        var outputDirectory = "."
        var showResponses: Bool?
        var json = false
        var abortAtEnd = false
        var repeatCount = 1
        var relational = false
        var combinedDateTime = false
    }

    static let q = QueryOptions.group
    static let commandLine = DCMTKCommandLine<Settings>(
        tool: "findscu", synopsis: "DICOM query (C-FIND) SCU, with DCMTK findscu's options",
        parameters: [
            ("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer"),
            ("[dcmfile-in...]", "DICOM query file(s)"),
        ],
        options: (CommonOptions.general + CommonOptions.aeTitles + CommonOptions.userIdentity + CommonOptions.network)
            .lifted(\.common) + QueryOptions.options.lifted(\.query)
            + [
                DCMTKOption("-W", "--worklist", [], "use modality worklist information model (not supported)", group: q)
                {
                    _, _ in throw CommandLineError(message: "the modality worklist model is not supported")
                },
                DCMTKOption(nil, "--relational", [], "negotiate relational queries (PS3.4 C.5.1.1)", group: q) { s, _ in
                    s.relational = true
                },
                DCMTKOption(nil, "--datetime", [], "negotiate combined date and time matching", group: q) { s, _ in
                    s.combinedDateTime = true
                },
                DCMTKOption(nil, "--repeat", ["[n]umber"], "repeat n times", group: "other network options") { s, o in
                    s.repeatCount = try o.int(in: 1...Int(Int32.max))
                },
                DCMTKOption(
                    nil, "--abort", [], "abort association instead of releasing it",
                    group: "other network options"
                ) { s, _ in s.abortAtEnd = true },
                DCMTKOption(
                    "-od", "--output-directory", ["[d]irectory"], "write output files to existing directory d",
                    group: "output"
                ) { s, o in s.outputDirectory = o.values[0] },
                DCMTKOption("+sr", "--show-responses", [], "always output responses to the logger", group: "output") {
                    s, _ in s.showResponses = true
                },
                DCMTKOption("-sr", "--hide-responses", [], "do not output responses to the logger", group: "output") {
                    s, _ in s.showResponses = false
                },
                DCMTKOption("-X", "--extract", [], "extract responses to DICOM file (rsp0001.dcm...)", group: "output")
                {
                    s, _ in s.extract = true
                },
                DCMTKOption(
                    nil, "--json", [], "print the responses as a DICOM JSON array (PS3.18 F) on stdout",
                    group: "output"
                ) { s, _ in s.json = true },
            ] + CommonOptions.tls.lifted(\.common))

    static func run(_ arguments: [String]) async -> Int32 {
        var defaults = Settings()
        defaults.common.association.callingAE = "FINDSCU"
        let parsed: Settings
        let (peer, port, queries): (String, Int, [DataSet])
        switch QueryOptions.parse(
            arguments, with: commandLine, into: defaults, common: \.common, query: \.query,
            exitCodes:
                "exit codes: 0 the queries ran (whatever their final status), 1 command line or query file error, 2 no association",
            versionLine: "ferry findscu \(FerryVersion.string) (DCMTK findscu 3.6.9 options)")
        {
        case .exit(let code): return code
        case .parsed(let s, let p, let n, let q): (parsed, peer, port, queries) = (s, p, n, q)
        }
        let logger = ConsoleLogHandler.logger("ferry.findscu", level: parsed.common.logLevel)
        let sopClass = parsed.query.model.sopClass(.find)
        let responses = Responses(parsed, sopClass: sopClass, logger: logger)
        do {
            let tls = parsed.common.tlsEnabled ? try parsed.common.tls.client() : nil
            logger.info("Requesting Association")
            let association: Association
            do {
                association = try await Association.open(
                    host: peer, port: port, parameters: proposal(parsed, sopClass: sopClass),
                    timeouts: parsed.common.timeouts, tls: tls, logger: logger)
            } catch {
                logger.critical("Association Request Failed: \(error)")
                return 2
            }
            logger.info("Association Accepted (Max Send PDV: \(association.sendPDULength - 6))")
            do {
                for _ in 0..<parsed.repeatCount {
                    for query in queries {
                        try await find(query, on: association, sopClass: sopClass, parsed, responses, logger: logger)
                    }
                }
                if parsed.abortAtEnd {
                    await association.abort()
                } else {
                    logger.info("Releasing Association")
                    try await association.release()
                }
            } catch {
                logger.critical("Find SCU Failed: \(error)")
                await association.abort()
                responses.printJSON()
                return 1
            }
        } catch {
            logger.critical("\(error)")
            return 1
        }
        responses.printJSON()
        return 0
    }

    /// The FIND context, with relational queries and combined date-time matching when asked.
    private static func proposal(_ parsed: Settings, sopClass: String) -> AssociationParameters {
        var parameters = parsed.common.association
        parameters.presentationContexts = [
            PresentationContextProposal(id: 1, abstractSyntax: sopClass, transferSyntaxes: QueryOptions.uncompressed)
        ]
        if parsed.relational || parsed.combinedDateTime {
            parameters.extendedNegotiations = [
                ExtendedNegotiation(
                    sopClass: sopClass, info: [parsed.relational ? 1 : 0, parsed.combinedDateTime ? 1 : 0])
            ]
        }
        return parameters
    }

    private static func find(
        _ query: DataSet, on association: Association, sopClass: String, _ parsed: Settings, _ responses: Responses,
        logger: Logger
    ) async throws {
        logger.info("Sending Find Request")
        if parsed.common.logLevel <= .info {
            var lines: [String] = []
            DataSetDump().lines(query, depth: 0, into: &lines)
            logger.lines(.info, "Request Identifiers:", lines)
        }
        let final = try await FindSCU.find(
            on: association, sopClass: sopClass, identifier: query, cancelAfter: parsed.query.cancelAfter
        ) { n, identifier in try responses.received(n, identifier) }
        logger.info(
            "Received Final Find Response (\(final.status.name))\(final.errorComment.map { ": \($0.escapedForLog())" } ?? "")"
        )
    }

    /// What is done with each answer: shown, kept for --json, written for -X.
    private final class Responses {
        let parsed: Settings
        let sopClass: String
        let logger: Logger
        let show: Bool
        var json: [String] = []
        var count = 0

        init(_ parsed: Settings, sopClass: String, logger: Logger) {
            self.parsed = parsed
            self.sopClass = sopClass
            self.logger = logger
            show = parsed.showResponses ?? (parsed.common.logLevel <= .info)
        }

        /// --json: the answers received, as one array on stdout.
        func printJSON() {
            if parsed.json { print("[" + json.joined(separator: ",\n") + "]") }
        }

        func received(_ n: Int, _ identifier: DataSet) throws {
            count += 1
            if show {
                var lines: [String] = []
                DataSetDump().lines(identifier, depth: 0, into: &lines)
                logger.lines(.warning, "---------------------------", ["Find Response: \(n) (Pending)"] + lines)
            }
            if parsed.json { json.append(DICOMJSON.encode(identifier)) }
            if parsed.extract {
                let path = parsed.outputDirectory + "/rsp\(fourDigits(count)).dcm"
                try FileBytes.write(
                    try Part10Writer.encode(
                        identifier, transferSyntax: .explicitVRLittleEndian,
                        meta: Part10Writer.fileMeta(
                            sopClass: sopClass, sopInstance: UIDGenerator.make(),
                            transferSyntax: .explicitVRLittleEndian, sourceAE: nil)),
                    to: path)
            }
        }
    }
}

/// `n` as four digits (DCMTK's rsp0001.dcm naming).
func fourDigits(_ n: Int) -> String {
    let digits = "\(n)"
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
