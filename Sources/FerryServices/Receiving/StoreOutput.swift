import FerryDICOM
import FerryNetwork

/// Where and how received instances are written (DCMTK storescp's output options).
public struct StoreOutputOptions: Sendable {
    public enum OutputSyntax: Sendable { case same, little, big, implicit, deflated }
    public enum Naming: Sendable { case uid, unique, time }
    public enum Sorting: Sendable, Equatable {
        case none
        case concurrentStudies(prefix: String)  // -ss: prefix_YYYYMMDD_HHMMSSPPP per study
        case studyUID(prefix: String)  // -su: prefix_StudyInstanceUID
        case patientName  // -sp: PatientName_YYYYMMDD_HHMMSSPPP
    }

    public var directory = "."
    /// +F (default) writes Part 10 files; -F the bare data set.
    public var writeFileFormat = true
    /// +B: the data set exactly as received (no conversion; implies +t=).
    public var bitPreserving = false
    public var outputSyntax: OutputSyntax = .same
    public var deflateLevel = Deflate.defaultLevel
    public var disableNewVRs = false
    /// Make each file durable (fsync file and directory) before the success response.
    public var fsync = false
    /// --ignore: receive, answer success, write nothing.
    public var ignore = false
    public var naming: Naming = .uid
    public var fileExtension = ""
    public var sorting: Sorting = .none
    /// Never replace a file already at an instance's path (DCMTK storescp overwrites it): the
    /// new one is placed under a unique name beside it. An archive keeps its first copy so.
    public var keepExisting = false

    public init() {}

    /// True when the received bytes can become the file as they are (only the meta is added).
    var streamsAsReceived: Bool {
        bitPreserving || (outputSyntax == .same && !disableNewVRs)
    }
}

/// DCMTK's two-letter-or-more modality prefix of stored file names, from the SOP class.
enum ModalityPrefix {
    static func of(_ sopClass: String) -> String {
        // Longest matching prefix on component boundaries.
        for (prefix, code) in table where sopClass == prefix || sopClass.hasPrefix(prefix + ".") {
            return code
        }
        return "UNKNOWN"
    }

    /// SOP class prefixes and their codes, longest first.
    private static let table: [(String, String)] = {
        let table: [(String, String)] = [
            ("1.2.840.10008.5.1.4.1.1.1.1", "DX"), ("1.2.840.10008.5.1.4.1.1.1.2", "MG"),
            ("1.2.840.10008.5.1.4.1.1.1.3", "IO"),
            ("1.2.840.10008.5.1.4.1.1.1", "CR"), ("1.2.840.10008.5.1.4.1.1.2", "CT"),
            ("1.2.840.10008.5.1.4.1.1.3", "US"),
            ("1.2.840.10008.5.1.4.1.1.4", "MR"), ("1.2.840.10008.5.1.4.1.1.6", "US"),
            ("1.2.840.10008.5.1.4.1.1.7", "SC"),
            ("1.2.840.10008.5.1.4.1.1.9", "WV"), ("1.2.840.10008.5.1.4.1.1.11", "PR"),
            ("1.2.840.10008.5.1.4.1.1.12", "XA"),
            ("1.2.840.10008.5.1.4.1.1.13", "XA"), ("1.2.840.10008.5.1.4.1.1.20", "NM"),
            ("1.2.840.10008.5.1.4.1.1.66", "RG"),
            ("1.2.840.10008.5.1.4.1.1.77", "VL"), ("1.2.840.10008.5.1.4.1.1.88.59", "KO"),
            ("1.2.840.10008.5.1.4.1.1.88", "SR"),
            ("1.2.840.10008.5.1.4.1.1.104", "DOC"), ("1.2.840.10008.5.1.4.1.1.128", "PT"),
            ("1.2.840.10008.5.1.4.1.1.130", "PT"),
            ("1.2.840.10008.5.1.4.1.1.481", "RT"),
        ]
        return table.sorted { $0.0.count > $1.0.count }
    }()
}
