import FerryDICOM
import FerryNetwork
import FerryServices

/// `ferry echo`: C-ECHO (Verification, PS3.4 A) with DCMTK echoscu's options; exit 0 on success.
enum EchoTool {
    /// What echo's options set.
    struct Settings {
        var common = CommonOptions.Values()
        var repeatCount = 1
        var abortAtEnd = false
    }

    static let commandLine = DCMTKCommandLine<Settings>(
        tool: "echo", synopsis: "DICOM verification (C-ECHO) SCU, with DCMTK echoscu's options",
        parameters: [("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer")],
        options: (CommonOptions.general + CommonOptions.aeTitles + CommonOptions.userIdentity + CommonOptions.network)
            .lifted(\.common)
            + [
                DCMTKOption(nil, "--repeat", ["[n]umber"], "repeat n times", group: "other network options") { s, o in
                    s.repeatCount = try o.int(in: 1...Int(Int32.max))
                },
                DCMTKOption(
                    nil, "--abort", [], "abort association instead of releasing it", group: "other network options"
                ) { s, _ in s.abortAtEnd = true },
            ] + CommonOptions.tls.lifted(\.common))

    static func run(_ arguments: [String]) async -> Int32 {
        var parsed = Settings()
        parsed.common.association.callingAE = "ECHOSCU"
        var params: [String] = []
        let port: Int
        do {
            params = try commandLine.parse(arguments, into: &parsed)
            if try commandLine.answeredGeneralOptions(
                help: parsed.common.showHelp, version: parsed.common.showVersion,
                printArguments: parsed.common.printArguments,
                arguments: arguments, exitCodes: "exit codes: 0 echo succeeded, 1 otherwise",
                versionLine: "ferry echo \(FerryVersion.string)")
            {
                return 0
            }
            try CommonOptions.finish(&parsed.common)
            guard params.count == 2 else { throw CommandLineError(message: "expected peer and port") }
            port = try dcmtkPort(params[1])
        } catch {
            return commandLine.usageError(error)
        }
        let logger = ConsoleLogHandler.logger("ferry.echo", level: parsed.common.logLevel)
        var parameters = parsed.common.association
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: UIDRegistry.verificationSOPClass,
                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
        ]
        do {
            let tls = parsed.common.tlsEnabled ? try parsed.common.tls.client() : nil
            logger.info("Requesting Association")
            let association = try await Association.open(
                host: params[0], port: port, parameters: parameters,
                timeouts: parsed.common.timeouts, tls: tls, logger: logger)
            logger.info("Association Accepted (Max Send PDV: \(association.sendPDULength - 6))")
            for _ in 0..<parsed.repeatCount {
                logger.info("Sending Echo Request")
                let status = try await association.echo()
                logger.info("Received Echo Response (\(status.name))")
                guard status == .success else {
                    logger.error("Echo failed: \(status)")
                    await association.abort()
                    return 1
                }
            }
            if parsed.abortAtEnd { await association.abort() } else { try await association.release() }
            return 0
        } catch {
            logger.critical("Echo failed: \(error)")
            return 1
        }
    }
}
