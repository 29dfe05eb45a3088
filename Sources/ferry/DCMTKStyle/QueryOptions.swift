import FerryDICOM
import FerryNetwork
import FerryServices

/// What findscu, movescu and getscu share: the information model, the `-k` keys, `--cancel`,
/// and how query files and keys become identifiers.
enum QueryOptions {
    struct Values {
        var model = InformationModel.studyRoot
        var keys: [String] = []
        var cancelAfter: Int?
    }

    static let group = "query information model"

    static let options: [DCMTKOption<Values>] = [
        DCMTKOption("-P", "--patient", [], "use patient root information model", group: group) { s, _ in
            s.model = .patientRoot
        },
        DCMTKOption("-S", "--study", [], "use study root information model (default)", group: group) { s, _ in
            s.model = .studyRoot
        },
        DCMTKOption("-O", "--psonly", [], "use patient/study only information model", group: group) { s, _ in
            s.model = .patientStudyOnly
        },
        DCMTKOption(
            "-k", "--key", ["[k]ey: gggg,eeee=\"str\", path or dictionary name=\"str\""], "override matching key",
            group: "query keys"
        ) { s, o in s.keys.append(o.values[0]) },
        DCMTKOption(
            nil, "--cancel", ["[n]umber"], "cancel after n responses (default: never)", group: "other network options"
        ) { s, o in s.cancelAfter = try o.int(in: 0...Int(Int32.max)) },
    ]

    /// A query tool's command line read (findscu, movescu, getscu): its settings, the peer, the
    /// port and the query identifiers; or the exit code when it was answered (help, version)
    /// or wrong.
    enum Parsed<Settings> {
        case exit(Int32)
        case parsed(settings: Settings, peer: String, port: Int, queries: [DataSet])
    }

    static func parse<Settings>(
        _ arguments: [String], with commandLine: DCMTKCommandLine<Settings>, into defaults: Settings,
        common: WritableKeyPath<Settings, CommonOptions.Values>, query: KeyPath<Settings, Values>,
        exitCodes: String, versionLine: String
    ) -> Parsed<Settings> {
        var parsed = defaults
        do {
            let params = try commandLine.parse(arguments, into: &parsed)
            let general = parsed[keyPath: common]
            if try commandLine.answeredGeneralOptions(
                help: general.showHelp, version: general.showVersion, printArguments: general.printArguments,
                arguments: arguments, exitCodes: exitCodes, versionLine: versionLine)
            {
                return .exit(0)
            }
            try CommonOptions.finish(&parsed[keyPath: common])
            guard params.count >= 2 else { throw CommandLineError(message: "expected peer and port") }
            let port = try dcmtkPort(params[1])
            let queries = try identifiers(files: params.dropFirst(2), keys: parsed[keyPath: query].keys)
            return .parsed(settings: parsed, peer: params[0], port: port, queries: queries)
        } catch {
            return .exit(commandLine.usageError(error))
        }
    }

    /// One identifier per query file, the keys overriding its attributes; with no file, one
    /// identifier of the keys alone.
    static func identifiers(files: ArraySlice<String>, keys: [String]) throws(CommandLineError) -> [DataSet] {
        var bases: [DataSet] = []
        for f in files {
            do { bases.append(try Part10Reader.read(path: f).dataSet) } catch {
                throw CommandLineError(message: "cannot read query file \(f): \(error)")
            }
        }
        if bases.isEmpty { bases = [DataSet()] }
        var out: [DataSet] = []
        for var q in bases {
            for k in keys {
                do throws(ServiceError) { try KeyAssignment.apply(k, to: &q) } catch {
                    throw CommandLineError(message: error.message)
                }
            }
            out.append(q)
        }
        return out
    }

    /// The uncompressed syntaxes Q/R tools propose (DCMTK's default: local byte order first).
    static let uncompressed = [
        TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.explicitVRBigEndian.uid,
        TransferSyntax.implicitVRLittleEndian.uid,
    ]
}
