import FerryDICOM
import FerryNetwork
import FerryServices

/// `ferry echo`: C-ECHO (Verification, PS3.4 A) with DCMTK echoscu's options; exit 0 on success.
enum EchoTool {
    static let commandLine = DCMTKCommandLine(
        tool: "echo", synopsis: "DICOM verification (C-ECHO) SCU, with DCMTK echoscu's options",
        parameters: [("peer", "hostname of DICOM peer"), ("port", "tcp/ip port number of peer")],
        specs: CommonOptions.general + CommonOptions.aeTitles + CommonOptions.userIdentity + CommonOptions.network + [
            OptionSpec(nil, "--repeat", ["[n]umber"], "repeat n times", group: "other network options"),
            OptionSpec(nil, "--abort", [], "abort association instead of releasing it", group: "other network options"),
        ] + CommonOptions.tls)

    static func run(_ arguments: [String]) async -> Int32 {
        var common = CommonOptions.Values()
        common.association.callingAE = "ECHOSCU"
        var repeatCount = 1, abortAtEnd = false
        var params: [String] = []
        let port: Int
        do {
            let parsed = try commandLine.parse(arguments)
            params = parsed.parameters
            for o in parsed.options {
                if try CommonOptions.apply(o, to: &common) { continue }
                switch o.name {
                case "--repeat": repeatCount = try o.int(in: 1...Int(Int32.max))
                case "--abort": abortAtEnd = true
                default: throw CommandLineError(message: "option \(o.name) is not handled")
                }
            }
            if try commandLine.answeredGeneralOptions(
                help: common.showHelp, version: common.showVersion, printArguments: common.printArguments,
                arguments: arguments, exitCodes: "exit codes: 0 echo succeeded, 1 otherwise",
                versionLine: "ferry echo \(FerryVersion.string)")
            {
                return 0
            }
            try CommonOptions.finish(&common)
            guard params.count == 2 else { throw CommandLineError(message: "expected peer and port") }
            port = try DCMTKCommandLine.port(params[1])
        } catch {
            return commandLine.usageError(error)
        }
        let logger = ConsoleLogHandler.logger("ferry.echo", level: common.logLevel)
        var parameters = common.association
        parameters.presentationContexts = [
            PresentationContextProposal(
                id: 1, abstractSyntax: UIDRegistry.verificationSOPClass,
                transferSyntaxes: [TransferSyntax.implicitVRLittleEndian.uid])
        ]
        do {
            let tls = common.tlsEnabled ? try common.tls.clientContext() : nil
            logger.info("Requesting Association")
            let association = try await Association.open(
                host: params[0], port: port, parameters: parameters,
                timeouts: common.timeouts, tls: tls, logger: logger)
            logger.info("Association Accepted (Max Send PDV: \(association.sendPDULength - 6))")
            for _ in 0..<repeatCount {
                logger.info("Sending Echo Request")
                let status = try await association.echo()
                logger.info("Received Echo Response (\(status.name))")
                guard status == .success else {
                    logger.error("Echo failed: \(status)")
                    await association.abort()
                    return 1
                }
            }
            if abortAtEnd { await association.abort() } else { try await association.release() }
            return 0
        } catch {
            logger.critical("Echo failed: \(error)")
            return 1
        }
    }
}
