import FerryDICOM
import FerryNetwork
import FerryServices
import Logging
import NIOCore

/// Options shared by Ferry's DCMTK-compatible network tools: logging, timeouts, PDU size,
/// TLS and user identity. Each tool applies its parsed options in order, so for mutually
/// exclusive options the rightmost wins.
enum CommonOptions {
    static let general: [OptionSpec] = [
        OptionSpec("-h", "--help", [], "print this help text and exit", group: "general options"),
        OptionSpec(nil, "--version", [], "print version information and exit", group: "general options"),
        OptionSpec(nil, "--arguments", [], "print expanded command line arguments", group: "general options"),
        OptionSpec("-q", "--quiet", [], "quiet mode, print no warnings and errors", group: "general options"),
        OptionSpec("-v", "--verbose", [], "verbose mode, print processing details", group: "general options"),
        OptionSpec("-d", "--debug", [], "debug mode, print debug information", group: "general options"),
        OptionSpec(
            "-ll", "--log-level", ["[l]evel"], "use level l for the logger\n(fatal, error, warn, info, debug, trace)",
            group: "general options"),
    ]

    static let aeTitles: [OptionSpec] = [
        OptionSpec(
            "-aet", "--aetitle", ["[a]etitle"], "set my calling AE title (default: STORESCU)",
            group: "application entity titles"),
        OptionSpec(
            "-aec", "--call", ["[a]etitle"], "set called AE title of peer (default: ANY-SCP)",
            group: "application entity titles"),
    ]

    static let network: [OptionSpec] = [
        OptionSpec(
            "-to", "--timeout", ["[s]econds"], "timeout for connection requests (default: unlimited)",
            group: "other network options"),
        OptionSpec(
            "-ts", "--socket-timeout", ["[s]econds"], "timeout for network socket, 0 for none (default: 60)",
            group: "other network options"),
        OptionSpec(
            "-ta", "--acse-timeout", ["[s]econds"], "timeout for ACSE messages (default: 30)",
            group: "other network options"),
        OptionSpec(
            "-td", "--dimse-timeout", ["[s]econds"], "timeout for DIMSE messages (default: unlimited)",
            group: "other network options"),
        OptionSpec(
            "-pdu", "--max-pdu", ["[n]umber"], "set max receive pdu to n bytes (4096..131072, default: 16384)",
            group: "other network options"),
        OptionSpec(
            nil, "--max-send-pdu", ["[n]umber"], "restrict max send pdu to n bytes (4096..131072)",
            group: "other network options"),
    ]

    static let userIdentity: [OptionSpec] = [
        OptionSpec(
            "-usr", "--user", ["[u]ser name"], "authenticate using user name u", group: "user identity negotiation"),
        OptionSpec(
            "-pwd", "--password", ["[p]assword"],
            "authenticate using password p (visible to other users of the\nmachine until Ferry scrubs it: prefer --password-env/--password-file)",
            group: "user identity negotiation"),
        OptionSpec(
            nil, "--password-env", ["[v]ariable"], "read the password from environment variable v",
            group: "user identity negotiation"),
        OptionSpec(
            nil, "--password-file", ["[f]ilename"], "read the password from file f", group: "user identity negotiation"),
        OptionSpec(
            "-epw", "--empty-password", [], "send empty password (only with --user)", group: "user identity negotiation"
        ),
        OptionSpec(
            "-kt", "--kerberos", ["[f]ilename"], "read kerberos ticket from file f", group: "user identity negotiation"),
        OptionSpec(nil, "--saml", ["[f]ilename"], "read SAML request from file f", group: "user identity negotiation"),
        OptionSpec(nil, "--jwt", ["[f]ilename"], "read JWT data from file f", group: "user identity negotiation"),
        OptionSpec("-rsp", "--pos-response", [], "expect positive response", group: "user identity negotiation"),
    ]

    static let tls: [OptionSpec] = [
        OptionSpec(
            "-tls", "--disable-tls", [], "use normal TCP/IP connection (default)",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+tls", "--enable-tls", ["[p]rivate key file", "[c]ertificate file"],
            "use authenticated secure TLS connection", group: "transport layer security (TLS) options"),
        OptionSpec(
            "+tla", "--anonymous-tls", [], "use secure TLS connection without certificate",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+ps", "--std-passwd", [], "prompt user to type password on stdin (default)",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+pw", "--use-passwd", ["[p]assword"],
            "use specified password (scrubbed from the process\narguments; prefer --passwd-env/--passwd-file)",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            nil, "--passwd-env", ["[v]ariable"], "read the private key password from environment variable v",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            nil, "--passwd-file", ["[f]ilename"], "read the private key password from file f",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "-pw", "--null-passwd", [], "use empty string as password", group: "transport layer security (TLS) options"),
        OptionSpec(
            "-pem", "--pem-keys", [], "read keys and certificates as PEM file (default)",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "-der", "--der-keys", [], "read keys and certificates as DER file",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+cf", "--add-cert-file", ["[f]ilename"], "add certificate file to list of certificates",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+cd", "--add-cert-dir", ["[d]irectory"], "add certificates in d to list of certificates",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "+cs", "--cipher", ["[c]iphersuite name"], "add ciphersuite to list of negotiated suites",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "-rc", "--require-peer-cert", [], "verify peer certificate, fail if absent (default)",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "-vc", "--verify-peer-cert", [], "verify peer certificate if present",
            group: "transport layer security (TLS) options"),
        OptionSpec(
            "-ic", "--ignore-peer-cert", [], "don't verify peer certificate",
            group: "transport layer security (TLS) options"),
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

    /// Applies one shared option; false when the option is not a shared one.
    static func apply(_ o: ParsedOption, to v: inout Values) throws(CommandLineError) -> Bool {
        switch o.name {
        case "--help": v.showHelp = true
        case "--version": v.showVersion = true
        case "--arguments": v.printArguments = true
        case "--quiet": v.logLevel = .critical
        case "--verbose": v.logLevel = .info
        case "--debug": v.logLevel = .debug
        case "--log-level":
            guard let l = ConsoleLogHandler.level(named: o.values[0]) else {
                throw CommandLineError(message: "--log-level: unknown level \(o.values[0])")
            }
            v.logLevel = l
        case "--aetitle": v.association.callingAE = o.values[0]
        case "--call": v.association.calledAE = o.values[0]
        case "--timeout": v.timeouts.connect = try o.seconds(in: 0.001...Timeouts.longest)
        case "--socket-timeout":
            let s = try o.seconds(in: 0...Timeouts.longest)
            v.timeouts.socket = s == .zero ? nil : s
        case "--acse-timeout": v.timeouts.acse = try o.seconds(in: 0.001...Timeouts.longest)
        case "--dimse-timeout": v.timeouts.dimse = try o.seconds(in: 0.001...Timeouts.longest)
        case "--max-pdu": v.association.maxReceivePDU = UInt32(try o.int(in: 4096...131072))
        case "--max-send-pdu": v.association.maxSendPDU = UInt32(try o.int(in: 4096...131072))
        case "--user": v.user = o.values[0]
        case "--password":
            v.password = o.values[0]
            Secrets.scrubFromArguments(o.values[0])
        case "--password-env": v.password = try Secrets.fromEnvironment(o.values[0])
        case "--password-file": v.password = try Secrets.fromFile(o.values[0])
        case "--empty-password": v.emptyPassword = true
        case "--kerberos": v.tokenKind = .kerberos; v.tokenFile = o.values[0]
        case "--saml": v.tokenKind = .saml; v.tokenFile = o.values[0]
        case "--jwt": v.tokenKind = .jwt; v.tokenFile = o.values[0]
        case "--pos-response": v.positiveResponse = true
        case "--disable-tls": v.tlsEnabled = false
        case "--enable-tls":
            v.tlsEnabled = true
            v.tls.privateKeyFile = o.values[0]
            v.tls.certificateFile = o.values[1]
        case "--anonymous-tls":
            v.tlsEnabled = true
            v.tls.privateKeyFile = nil
            v.tls.certificateFile = nil
        case "--std-passwd": v.keyPasswordFromStdin = true; v.tls.privateKeyPassword = nil
        case "--use-passwd":
            v.keyPasswordFromStdin = false
            v.tls.privateKeyPassword = o.values[0]
            Secrets.scrubFromArguments(o.values[0])
        case "--passwd-env":
            v.keyPasswordFromStdin = false; v.tls.privateKeyPassword = try Secrets.fromEnvironment(o.values[0])
        case "--passwd-file":
            v.keyPasswordFromStdin = false; v.tls.privateKeyPassword = try Secrets.fromFile(o.values[0])
        case "--null-passwd": v.keyPasswordFromStdin = false; v.tls.privateKeyPassword = ""
        case "--pem-keys": v.tls.format = .pem
        case "--der-keys": v.tls.format = .der
        case "--add-cert-file": v.tls.trustedCertificateFiles.append(o.values[0])
        case "--add-cert-dir": v.tls.trustedCertificateDirectories.append(o.values[0])
        case "--cipher": v.tls.cipherSuites.append(o.values[0])
        case "--require-peer-cert": v.tls.verification = .require
        case "--verify-peer-cert": v.tls.verification = .verifyIfPresent
        case "--ignore-peer-cert": v.tls.verification = .ignore
        default: return false
        }
        return true
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
