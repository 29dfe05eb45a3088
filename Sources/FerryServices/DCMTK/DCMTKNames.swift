import FerryDICOM
import FerryNetwork

/// DCMTK's symbolic UID names ("CTImageStorage", "LittleEndianExplicit", ...), which DCMTK's
/// association negotiation profiles use. The table is read off DCMTK by
/// scripts/generate-dcmtk-names.py.
public enum DCMTKNames {
    private static let byName: [String: String] = {
        var map: [String: String] = [:]
        for line in table.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            if parts.count == 2 { map[String(parts[1])] = String(parts[0]) }
        }
        return map
    }()

    /// The UID for a DCMTK name, or the argument itself when it already is a UID.
    public static func uid(for nameOrUID: String) -> String? {
        if let uid = byName[nameOrUID] { return uid }
        // asconfig's byte-order aliases (DCMTK's dcasccfg; little endian hosts).
        if nameOrUID == "LocalEndianExplicit" { return TransferSyntax.explicitVRLittleEndian.uid }
        if nameOrUID == "OppositeEndianExplicit" { return TransferSyntax.explicitVRBigEndian.uid }
        if nameOrUID.first?.isNumber == true, nameOrUID.allSatisfy({ $0.isNumber || $0 == "." }) { return nameOrUID }
        return nil
    }
}
