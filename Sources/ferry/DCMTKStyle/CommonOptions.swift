import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import NIOCore

/// Options shared by Ferry's DCMTK-compatible network tools: logging, timeouts, PDU size,
/// TLS and user identity. Each tool applies its parsed options in order, so for mutually
/// exclusive options the rightmost wins.
enum CommonOptions {
    static let general: [DCMTKOption<Values>] = [
        DCMTKOption("-h", "--help", [], "print this help text and exit", group: "general options") { v, _ in
            v.showHelp = true
        },
        DCMTKOption(nil, "--version", [], "print version information and exit", group: "general options") { v, _ in
            v.showVersion = true
        },
        DCMTKOption(nil, "--arguments", [], "print expanded command line arguments", group: "general options") { v, _ in
            v.printArguments = true
        },
        DCMTKOption("-q", "--quiet", [], "quiet mode, print no warnings and errors", group: "general options") { v, _ in
            v.logLevel = .critical
        },
        DCMTKOption("-v", "--verbose", [], "verbose mode, print processing details", group: "general options") { v, _ in
            v.logLevel = .info
        },
        DCMTKOption("-d", "--debug", [], "debug mode, print debug information", group: "general options") { v, _ in
            v.logLevel = .debug
        },
        DCMTKOption(
            "-ll", "--log-level", ["[l]evel"], "use level l for the logger\n(fatal, error, warn, info, debug, trace)",
            group: "general options"
        ) { v, o in
            guard let l = ConsoleLogHandler.level(named: o.values[0]) else {
                throw CommandLineError(message: "--log-level: unknown level \(o.values[0])")
            }
            v.logLevel = l
        },
    ]

    static let aeTitles: [DCMTKOption<Values>] = [
        DCMTKOption(
            "-aet", "--aetitle", ["[a]etitle"], "set my calling AE title (default: STORESCU)",
            group: "application entity titles"
        ) { v, o in v.association.callingAE = o.values[0] },
        DCMTKOption(
            "-aec", "--call", ["[a]etitle"], "set called AE title of peer (default: ANY-SCP)",
            group: "application entity titles"
        ) { v, o in v.association.calledAE = o.values[0] },
    ]

    static let network: [DCMTKOption<Values>] = [
        DCMTKOption(
            "-to", "--timeout", ["[s]econds"], "timeout for connection requests (default: unlimited)",
            group: "other network options"
        ) { v, o in v.timeouts.connect = try o.seconds(in: 0.001...Timeouts.longest) },
        DCMTKOption(
            "-ts", "--socket-timeout", ["[s]econds"], "timeout for network socket, 0 for none (default: 60)",
            group: "other network options"
        ) { v, o in
            let s = try o.seconds(in: 0...Timeouts.longest)
            v.timeouts.socket = s == .zero ? nil : s
        },
        DCMTKOption(
            "-ta", "--acse-timeout", ["[s]econds"], "timeout for ACSE messages (default: 30)",
            group: "other network options"
        ) { v, o in v.timeouts.acse = try o.seconds(in: 0.001...Timeouts.longest) },
        DCMTKOption(
            "-td", "--dimse-timeout", ["[s]econds"], "timeout for DIMSE messages (default: unlimited)",
            group: "other network options"
        ) { v, o in v.timeouts.dimse = try o.seconds(in: 0.001...Timeouts.longest) },
        DCMTKOption(
            "-pdu", "--max-pdu", ["[n]umber"], "set max receive pdu to n bytes (4096..131072, default: 16384)",
            group: "other network options"
        ) { v, o in v.association.maxReceivePDU = UInt32(try o.int(in: 4096...131072)) },
        DCMTKOption(
            nil, "--max-send-pdu", ["[n]umber"], "restrict max send pdu to n bytes (4096..131072)",
            group: "other network options"
        ) { v, o in v.association.maxSendPDU = UInt32(try o.int(in: 4096...131072)) },
    ]

    static let userIdentity: [DCMTKOption<Values>] = [
        DCMTKOption(
            "-usr", "--user", ["[u]ser name"], "authenticate using user name u", group: "user identity negotiation"
        ) { v, o in v.user = o.values[0] },
        DCMTKOption(
            "-pwd", "--password", ["[p]assword"],
            "authenticate using password p (visible to other users of the\nmachine until Ferry scrubs it: prefer --password-env/--password-file)",
            group: "user identity negotiation"
        ) { v, o in
            v.password = o.values[0]
            Secrets.scrubFromArguments(o.values[0])
        },
        DCMTKOption(
            nil, "--password-env", ["[v]ariable"], "read the password from environment variable v",
            group: "user identity negotiation"
        ) { v, o in v.password = try Secrets.fromEnvironment(o.values[0]) },
        DCMTKOption(
            nil, "--password-file", ["[f]ilename"], "read the password from file f", group: "user identity negotiation"
        ) { v, o in v.password = try Secrets.fromFile(o.values[0]) },
        DCMTKOption(
            "-epw", "--empty-password", [], "send empty password (only with --user)", group: "user identity negotiation"
        ) { v, _ in v.emptyPassword = true },
        DCMTKOption(
            "-kt", "--kerberos", ["[f]ilename"], "read kerberos ticket from file f", group: "user identity negotiation"
        ) { v, o in
            v.tokenKind = .kerberos
            v.tokenFile = o.values[0]
        },
        DCMTKOption(nil, "--saml", ["[f]ilename"], "read SAML request from file f", group: "user identity negotiation")
        { v, o in
            v.tokenKind = .saml
            v.tokenFile = o.values[0]
        },
        DCMTKOption(nil, "--jwt", ["[f]ilename"], "read JWT data from file f", group: "user identity negotiation") {
            v, o in
            v.tokenKind = .jwt
            v.tokenFile = o.values[0]
        },
        DCMTKOption("-rsp", "--pos-response", [], "expect positive response", group: "user identity negotiation") {
            v, _ in v.positiveResponse = true
        },
    ]

    static let tls: [DCMTKOption<Values>] = [
        DCMTKOption(
            "-tls", "--disable-tls", [], "use normal TCP/IP connection (default)",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tlsEnabled = false },
        DCMTKOption(
            "+tls", "--enable-tls", ["[p]rivate key file", "[c]ertificate file"],
            "use authenticated secure TLS connection", group: "transport layer security (TLS) options"
        ) { v, o in
            v.tlsEnabled = true
            v.tls.privateKeyFile = o.values[0]
            v.tls.certificateFile = o.values[1]
        },
        DCMTKOption(
            "+tla", "--anonymous-tls", [], "use secure TLS connection without certificate",
            group: "transport layer security (TLS) options"
        ) { v, _ in
            v.tlsEnabled = true
            v.tls.privateKeyFile = nil
            v.tls.certificateFile = nil
        },
        DCMTKOption(
            "+ps", "--std-passwd", [], "prompt user to type password on stdin (default)",
            group: "transport layer security (TLS) options"
        ) { v, _ in
            v.keyPasswordFromStdin = true
            v.tls.privateKeyPassword = nil
        },
        DCMTKOption(
            "+pw", "--use-passwd", ["[p]assword"],
            "use specified password (scrubbed from the process\narguments; prefer --passwd-env/--passwd-file)",
            group: "transport layer security (TLS) options"
        ) { v, o in
            v.keyPasswordFromStdin = false
            v.tls.privateKeyPassword = o.values[0]
            Secrets.scrubFromArguments(o.values[0])
        },
        DCMTKOption(
            nil, "--passwd-env", ["[v]ariable"], "read the private key password from environment variable v",
            group: "transport layer security (TLS) options"
        ) { v, o in
            v.keyPasswordFromStdin = false
            v.tls.privateKeyPassword = try Secrets.fromEnvironment(o.values[0])
        },
        DCMTKOption(
            nil, "--passwd-file", ["[f]ilename"], "read the private key password from file f",
            group: "transport layer security (TLS) options"
        ) { v, o in
            v.keyPasswordFromStdin = false
            v.tls.privateKeyPassword = try Secrets.fromFile(o.values[0])
        },
        DCMTKOption(
            "-pw", "--null-passwd", [], "use empty string as password", group: "transport layer security (TLS) options"
        ) { v, _ in
            v.keyPasswordFromStdin = false
            v.tls.privateKeyPassword = ""
        },
        DCMTKOption(
            "-pem", "--pem-keys", [], "read keys and certificates as PEM file (default)",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.format = .pem },
        DCMTKOption(
            "-der", "--der-keys", [], "read keys and certificates as DER file",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.format = .der },
        DCMTKOption(
            "+cf", "--add-cert-file", ["[f]ilename"], "add certificate file to list of certificates",
            group: "transport layer security (TLS) options"
        ) { v, o in v.tls.trustedCertificateFiles.append(o.values[0]) },
        DCMTKOption(
            "+cd", "--add-cert-dir", ["[d]irectory"], "add certificates in d to list of certificates",
            group: "transport layer security (TLS) options"
        ) { v, o in v.tls.trustedCertificateDirectories.append(o.values[0]) },
        DCMTKOption(
            "+cs", "--cipher", ["[c]iphersuite name"], "add ciphersuite to list of negotiated suites",
            group: "transport layer security (TLS) options"
        ) { v, o in v.tls.cipherSuites.append(o.values[0]) },
        DCMTKOption(
            "-rc", "--require-peer-cert", [], "verify peer certificate, fail if absent (default)",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.verification = .require },
        DCMTKOption(
            "-vc", "--verify-peer-cert", [], "verify peer certificate if present",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.verification = .verifyIfPresent },
        DCMTKOption(
            "-ic", "--ignore-peer-cert", [], "don't verify peer certificate",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.verification = .ignore },
        DCMTKOption(
            nil, "--tls-system-ca", [], "also trust the system's CA certificates (never implied)",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.systemTrustStore = true },
        DCMTKOption(
            nil, "--tls-no-host-check", [],
            "verify the peer's certificate chain only, not that it names\nthe peer's host or address (DCMTK's behaviour)",
            group: "transport layer security (TLS) options"
        ) { v, _ in v.tls.checkHostName = false },
        DCMTKOption(
            nil, "--tls-pin", ["[f]ilename"],
            "accept only a peer certificate equal to one in f (repeatable)",
            group: "transport layer security (TLS) options"
        ) { v, o in v.tls.pinnedCertificateFiles.append(o.values[0]) },
    ]

    /// Settings the shared options produce.
    struct Values {
        var logLevel: Logger.Level = .warning
        var association = AssociationParameters()
        var timeouts = Timeouts()
        var tlsEnabled = false
        var tls = TLSOptions()
        var keyPasswordFromStdin = true
        var user: String?
        var password: String?
        var emptyPassword = false
        var tokenKind: UserIdentity.Kind?
        var tokenFile: String?
        var positiveResponse = false
        var showHelp = false
        var showVersion = false
        var printArguments = false
    }

    /// Completes what needs several options: the user identity item and the key password.
    static func finish(_ v: inout Values) throws(CommandLineError) {
        if let kind = v.tokenKind, let file = v.tokenFile {
            guard let bytes = try? FileBytes.readAll(file) else {
                throw CommandLineError(message: "cannot read \(file)")
            }
            v.association.userIdentity = UserIdentity(
                kind: kind, positiveResponseRequested: v.positiveResponse, primaryField: bytes)
        } else if let user = v.user {
            let passcode = v.emptyPassword ? "" : v.password
            v.association.userIdentity = .username(user, passcode: passcode, positiveResponse: v.positiveResponse)
        } else if v.password != nil {
            throw CommandLineError(message: "--password only with --user")
        }
        // The item's field lengths are 16 bits (PS3.7 D.3.3.7): a longer value cannot travel.
        if let id = v.association.userIdentity, id.primaryField.count > 0xFFFF || id.secondaryField.count > 0xFFFF {
            throw CommandLineError(
                message:
                    "user identity of \(max(id.primaryField.count, id.secondaryField.count)) bytes; the item holds at most 65535 per field"
            )
        }
        if v.tlsEnabled, v.tls.privateKeyFile != nil, v.tls.privateKeyPassword == nil, v.keyPasswordFromStdin {
            // DCMTK's +ps: the key may be unencrypted; ask only if it is encrypted.
            if let bytes = try? FileBytes.readAll(v.tls.privateKeyFile ?? ""),
                String(decoding: bytes, as: UTF8.self).contains("ENCRYPTED")
            {
                FileHandleWriter.stderr("Enter password for private key: ")
                v.tls.privateKeyPassword = readLine(strippingNewline: true) ?? ""
            }
        }
    }
}
