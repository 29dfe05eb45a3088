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
