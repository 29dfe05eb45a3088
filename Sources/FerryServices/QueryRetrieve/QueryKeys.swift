import FerryDICOM

/// The attributes of each Query/Retrieve level (PS3.4 C.6.1.1, C.6.2.1 and the modules the
/// levels stand for: Patient, General Study and Patient Study, General Series and General
/// Equipment). An attribute of no listed level belongs to the IMAGE level.
public enum QueryKeys {
    public static let specificCharacterSet = Tag(0x0008, 0x0005)
    public static let queryRetrieveLevel = Tag(0x0008, 0x0052)
    public static let retrieveAETitle = Tag(0x0008, 0x0054)
    public static let failedSOPInstanceUIDList = Tag(0x0008, 0x0058)
    public static let patientID = Tag(0x0010, 0x0020)
    public static let patientName = Tag(0x0010, 0x0010)
    public static let studyInstanceUID = Tag(0x0020, 0x000D)
    public static let seriesInstanceUID = Tag(0x0020, 0x000E)
    public static let sopInstanceUID = Tag(0x0008, 0x0018)
    public static let sopClassUID = Tag(0x0008, 0x0016)
    public static let studyDate = Tag(0x0008, 0x0020)
    public static let studyTime = Tag(0x0008, 0x0030)
    public static let accessionNumber = Tag(0x0008, 0x0050)
    public static let modality = Tag(0x0008, 0x0060)
    public static let modalitiesInStudy = Tag(0x0008, 0x0061)
    public static let sopClassesInStudy = Tag(0x0008, 0x0062)
    public static let instanceNumber = Tag(0x0020, 0x0013)
    public static let numberOfPatientRelatedStudies = Tag(0x0020, 0x1200)
    public static let numberOfPatientRelatedSeries = Tag(0x0020, 0x1202)
    public static let numberOfPatientRelatedInstances = Tag(0x0020, 0x1204)
    public static let numberOfStudyRelatedSeries = Tag(0x0020, 0x1206)
    public static let numberOfStudyRelatedInstances = Tag(0x0020, 0x1208)
    public static let numberOfSeriesRelatedInstances = Tag(0x0020, 0x1209)
    /// The syntax an instance is held in (IMAGE level): what a retrieve would bring.
    public static let availableTransferSyntaxUID = Tag(0x0008, 0x3002)

    /// Attributes the archive computes from its index rather than reads from a file.
    public static let computed: [Tag: QueryLevel] = [
        numberOfPatientRelatedStudies: .patient, numberOfPatientRelatedSeries: .patient,
        numberOfPatientRelatedInstances: .patient, numberOfStudyRelatedSeries: .study,
        numberOfStudyRelatedInstances: .study, modalitiesInStudy: .study, sopClassesInStudy: .study,
        numberOfSeriesRelatedInstances: .series, availableTransferSyntaxUID: .image,
    ]

    /// Attributes of the Patient Study module that sit in group 0010 but describe the study.
    static let patientStudy: Set<Tag> = [
        Tag(0x0010, 0x1010), Tag(0x0010, 0x1020), Tag(0x0010, 0x1022), Tag(0x0010, 0x1023),
        Tag(0x0010, 0x1030), Tag(0x0010, 0x2000), Tag(0x0010, 0x2110), Tag(0x0010, 0x2180),
        Tag(0x0010, 0x21A0), Tag(0x0010, 0x21B0), Tag(0x0010, 0x21C0), Tag(0x0010, 0x21D0),
        Tag(0x0010, 0x2203),
    ]

    static let study: Set<Tag> = [
        studyDate, studyTime, accessionNumber, Tag(0x0008, 0x0051), Tag(0x0008, 0x0090), Tag(0x0008, 0x0096),
        Tag(0x0008, 0x1030), Tag(0x0008, 0x1032), Tag(0x0008, 0x1048), Tag(0x0008, 0x1049), Tag(0x0008, 0x1060),
        Tag(0x0008, 0x1062), Tag(0x0008, 0x1080), Tag(0x0008, 0x1084), Tag(0x0008, 0x1110),
        studyInstanceUID, Tag(0x0020, 0x0010), Tag(0x0020, 0x1070), Tag(0x0032, 0x1032), Tag(0x0032, 0x1033),
        Tag(0x0032, 0x1060), Tag(0x0032, 0x1064), Tag(0x0032, 0x4000), Tag(0x0038, 0x0010),
    ]

    static let series: Set<Tag> = [
        Tag(0x0008, 0x0021), Tag(0x0008, 0x0031), modality, Tag(0x0008, 0x0064), Tag(0x0008, 0x0070),
        Tag(0x0008, 0x0080), Tag(0x0008, 0x0081), Tag(0x0008, 0x1010), Tag(0x0008, 0x103E), Tag(0x0008, 0x1040),
        Tag(0x0008, 0x1050), Tag(0x0008, 0x1070), Tag(0x0008, 0x1090), Tag(0x0008, 0x1111), Tag(0x0018, 0x0015),
        Tag(0x0018, 0x1000), Tag(0x0018, 0x1020), Tag(0x0018, 0x1030), Tag(0x0018, 0x5100), seriesInstanceUID,
        Tag(0x0020, 0x0011), Tag(0x0020, 0x0060), Tag(0x0040, 0x0244), Tag(0x0040, 0x0245), Tag(0x0040, 0x0253),
        Tag(0x0040, 0x0254), Tag(0x0040, 0x0275),
    ]

    /// The level an attribute belongs to.
    public static func level(of tag: Tag) -> QueryLevel {
        if let computed = computed[tag] { return computed }
        if tag.group == 0x0010 { return patientStudy.contains(tag) ? .study : .patient }
        if study.contains(tag) { return .study }
        if series.contains(tag) { return .series }
        return .image
    }

    /// Whether a key is one an information model can answer: a public data element the
    /// dictionary knows (private tags and unknown ones never reach the index's answers).
    static func isDefined(_ tag: Tag) -> Bool {
        !tag.isPrivate && tag.group > 0x0002 && (computed[tag] != nil || DataDictionary.entry(for: tag) != nil)
    }

    /// Elements that are part of the request's envelope, not keys to match.
    static let envelope: Set<Tag> = [specificCharacterSet, queryRetrieveLevel, retrieveAETitle]
}
