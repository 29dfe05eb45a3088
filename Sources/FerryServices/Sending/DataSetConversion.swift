import FerryDICOM
import FerryNetwork

/// Re-encodes a file's data set for the network: another unencapsulated transfer syntax,
/// new UIDs (+II ...), or post-1993 VRs written as OB (-u).
public struct DataSetConversion: Sendable {
    public var disableNewVRs = false
    public var deflateLevel = Deflate.defaultLevel

    public init() {}

    public func encode(_ dataSet: DataSet, as ts: TransferSyntax) throws(DICOMError) -> [UInt8] {
        var ds = dataSet
        if disableNewVRs && ts.isExplicitVR { ds = Self.withoutNewVRs(ds) }
        let plain = try DataSetWriter(ts.isDeflated ? .explicitVRLittleEndian : ts).encode(ds)
        return ts.isDeflated ? try Deflate.deflatedDataSet(plain, level: deflateLevel) : plain
    }

    /// UN, UT, UC, UR and the 64-bit VRs become OB, as DCMTK does with -u (no 32-bit length
    /// VRs beyond OB/OW/SQ for pre-1993 receivers).
    static func withoutNewVRs(_ ds: DataSet) -> DataSet {
        let newVRs: Set<VR> = [.UN, .UT, .UC, .UR, .OD, .OL, .OV, .SV, .UV]
        return DataSet(
            ds.elements.map { e in
                var e = e
                if case .sequence(let items) = e.value {
                    e.value = .sequence(items.map(withoutNewVRs))
                } else if newVRs.contains(e.vr) {
                    e.vr = .OB
                }
                return e
            })
    }
}

/// DCMTK's +II/+IR/+IS/+IP: a new SOP instance UID for every image, a new series after n
/// images, a new study after n series, a new patient after n studies.
public struct UIDInvention: Sendable {
    public var imagesPerSeries = 100
    public var seriesPerStudy = 50
    public var studiesPerPatient = 25
    public var inventSeries = false
    public var inventStudy = false
    public var inventPatient = false

    private var images = 0, series = 0, studies = 0
    private var seriesUID = UIDGenerator.make(), studyUID = UIDGenerator.make()
    private var patientNumber = 0

    public init() {}

    /// Applies the counters to one data set; returns the new SOP Instance UID.
    public mutating func apply(to ds: inout DataSet) -> String {
        let instance = UIDGenerator.make()
        ds.set(.sopInstanceUID, .UI, instance)
        if inventSeries || inventStudy || inventPatient {
            if images >= imagesPerSeries { images = 0; series += 1; seriesUID = UIDGenerator.make() }
            images += 1
            ds.set(.seriesInstanceUID, .UI, seriesUID)
        }
        if inventStudy || inventPatient {
            if series >= seriesPerStudy { series = 0; studies += 1; studyUID = UIDGenerator.make() }
            ds.set(.studyInstanceUID, .UI, studyUID)
        }
        if inventPatient {
            if studies >= studiesPerPatient { studies = 0; patientNumber += 1 }
            ds.set(.patientID, .LO, "FERRY\(patientNumber)")
            ds.set(.patientName, .PN, "FERRY^PATIENT\(patientNumber)")
        }
        return instance
    }
}
