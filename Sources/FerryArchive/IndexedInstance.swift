import FerryDICOM
import FerryServices

/// What the index keeps of one stored instance: its place, and its attributes split by
/// Query/Retrieve level, each part encoded as an explicit VR little endian data set (the
/// values' bytes as the file has them, with the file's Specific Character Set).
public struct IndexedInstance: Sendable {
    public var path: String
    public var size: Int
    public var transferSyntaxUID: String
    public var sopClassUID: String
    public var sopInstanceUID: String
    public var patientID: String
    public var issuerOfPatientID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var studyDate: String?
    public var studyTime: String?
    public var accessionNumber: String?
    public var modality: String?
    public var instanceNumber: Int?
    public var charset: String
    /// The level parts: PATIENT, STUDY, SERIES, IMAGE.
    public var attributes: [QueryLevel: DataSet]

    /// Image-level values longer than this stay in the file (the index holds what queries use).
    static let longestImageValue = 64

    /// From a file's header data set. Instances without the four identifying UIDs and IDs
    /// cannot be placed in the hierarchy: refused with the missing attribute named.
    public init(dataSet ds: DataSet, path: String, size: Int, transferSyntaxUID: String) throws(ServiceError) {
        func required(_ tag: Tag, _ name: String) throws(ServiceError) -> String {
            guard let v = ds.string(tag), !v.isEmpty else {
                throw ServiceError(.unreadableFile, "no \(name) \(tag): the instance cannot be indexed", path: path)
            }
            return v
        }
        self.path = path
        self.size = size
        self.transferSyntaxUID = transferSyntaxUID
        sopClassUID = try required(QueryKeys.sopClassUID, "SOP Class UID")
        sopInstanceUID = try required(QueryKeys.sopInstanceUID, "SOP Instance UID")
        studyInstanceUID = try required(QueryKeys.studyInstanceUID, "Study Instance UID")
        seriesInstanceUID = try required(QueryKeys.seriesInstanceUID, "Series Instance UID")
        // An instance without Patient ID is filed under an empty one (DCMTK does the same).
        patientID = ds.string(QueryKeys.patientID) ?? ""
        issuerOfPatientID = ds.string(Tag(0x0010, 0x0021)) ?? ""
        studyDate = ds.string(QueryKeys.studyDate)
        studyTime = ds.string(QueryKeys.studyTime)
        accessionNumber = ds.string(QueryKeys.accessionNumber)
        modality = ds.string(QueryKeys.modality)
        instanceNumber = ds.integer(QueryKeys.instanceNumber)
        charset = ds.string(QueryKeys.specificCharacterSet) ?? ""
        var parts: [QueryLevel: DataSet] = [
            .patient: DataSet(), .study: DataSet(), .series: DataSet(), .image: DataSet(),
        ]
        for e in ds.elements {
            if e.tag.group <= 0x0002 || e.tag.isGroupLength || e.tag.isPrivate || e.tag == .pixelData { continue }
            if e.tag.group >= 0x6000 && e.tag.group <= 0x60FF { continue }  // overlays
            if e.tag == QueryKeys.specificCharacterSet { continue }
            let level = QueryKeys.level(of: e.tag)
            if level == .image {
                guard let bytes = e.bytes, bytes.count <= Self.longestImageValue else { continue }
            }
            parts[level]?[e.tag] = e
        }
        attributes = parts
    }

    func encoded(_ level: QueryLevel) throws(DICOMError) -> [UInt8] {
        try DataSetWriter(encoding: .explicitLittle).encode(attributes[level] ?? DataSet())
    }
}
