import FerryDICOM

/// Query/Retrieve levels (0008,0052), top to bottom (PS3.4 C.6).
public enum QueryLevel: String, Sendable, CaseIterable, Comparable {
    case patient = "PATIENT"
    case study = "STUDY"
    case series = "SERIES"
    case image = "IMAGE"

    var depth: Int {
        switch self {
        case .patient: 0
        case .study: 1
        case .series: 2
        case .image: 3
        }
    }

    public static func < (a: QueryLevel, b: QueryLevel) -> Bool { a.depth < b.depth }

    /// The level's unique key (PS3.4 C.6.1.1, C.6.2.1).
    public var uniqueKey: Tag {
        switch self {
        case .patient: QueryKeys.patientID
        case .study: QueryKeys.studyInstanceUID
        case .series: QueryKeys.seriesInstanceUID
        case .image: QueryKeys.sopInstanceUID
        }
    }
}

/// The DIMSE-C operations of Query/Retrieve.
public enum QueryOperation: String, Sendable, CaseIterable {
    case find = "FIND"
    case move = "MOVE"
    case get = "GET"
}

/// Query/Retrieve information models (PS3.4 C.6): Patient Root, Study Root and the retired
/// Patient/Study Only, each with a FIND, a MOVE and a GET SOP class.
public enum InformationModel: String, Sendable, CaseIterable {
    case patientRoot = "Patient Root"
    case studyRoot = "Study Root"
    case patientStudyOnly = "Patient/Study Only"

    private var prefix: String {
        switch self {
        case .patientRoot: "1.2.840.10008.5.1.4.1.2.1."
        case .studyRoot: "1.2.840.10008.5.1.4.1.2.2."
        case .patientStudyOnly: "1.2.840.10008.5.1.4.1.2.3."
        }
    }

    public func sopClass(_ operation: QueryOperation) -> String {
        switch operation {
        case .find: prefix + "1"
        case .move: prefix + "2"
        case .get: prefix + "3"
        }
    }

    /// The model and operation of a Q/R SOP class, or nil.
    public static func lookup(_ sopClass: String) -> (model: InformationModel, operation: QueryOperation)? {
        for model in allCases {
            for op in QueryOperation.allCases where model.sopClass(op) == sopClass { return (model, op) }
        }
        return nil
    }

    /// The levels the model has (Study Root has no PATIENT level; Patient/Study Only stops at STUDY).
    public var levels: [QueryLevel] {
        switch self {
        case .patientRoot: [.patient, .study, .series, .image]
        case .studyRoot: [.study, .series, .image]
        case .patientStudyOnly: [.patient, .study]
        }
    }

    /// Every Q/R SOP class, for the acceptor's negotiation.
    public static var allSOPClasses: [String] {
        allCases.flatMap { m in QueryOperation.allCases.map { m.sopClass($0) } }
    }
}
