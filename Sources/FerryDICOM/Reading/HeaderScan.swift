/// What planning needs from a file, read without its pixel bytes.
public struct HeaderSummary: Sendable, Codable, Equatable {
    public var path: String
    public var fileSize: Int
    public var transferSyntaxUID: String
    public var sopClassUID: String?
    public var sopInstanceUID: String?
    public var patientID: String?
    public var patientName: String?
    public var studyInstanceUID: String?
    public var seriesInstanceUID: String?
    public var modality: String?
    public var studyDate: String?
    public var accessionNumber: String? = nil
    public var instanceNumber: Int?
    public var pixel: PixelAttributes?
    /// Where Pixel Data starts; nil when the object has none.
    public var pixelData: PixelDataLocation?
    public var hasFileMeta: Bool
    public var dataSetOffset: Int
    public var quirks: [String]
    /// The data set has a quirk of its encoding (not of the file's layout): sent re-encoded,
    /// never as its bytes are.
    public var mustRewrite = false
}

/// Header-only reading: parses up to (7FE0,0010) from a growing prefix of the file.
public enum HeaderScan {
    public static func summary(
        path: String, options: ReadOptions = ReadOptions()
    ) throws(DICOMError) -> HeaderSummary {
        try FileBytes.withGrowingPrefix(path) { (prefix, size) throws(DICOMError) in
            try summary(prefix: prefix, fileSize: size, path: path, options: options)
        }
    }

    /// The file's layout and its data set up to Pixel Data (the pixel data is not read).
    public static func header(
        path: String, options: ReadOptions = ReadOptions()
    ) throws(DICOMError) -> (layout: FileLayout, dataSet: DataSet, fileSize: Int) {
        try FileBytes.withGrowingPrefix(path) { (prefix, size) throws(DICOMError) in
            let h = try parse(prefix: prefix, fileSize: size, options: options)
            return (h.layout, h.dataSet, size)
        }
    }

    /// Parses a prefix of a file; throws `.needMoreData` if the header does not fit in it.
    public static func summary(
        prefix: [UInt8], fileSize: Int, path: String, options: ReadOptions = ReadOptions()
    ) throws(DICOMError) -> HeaderSummary {
        let (layout, ds, pixelData, encodingQuirks) = try parse(prefix: prefix, fileSize: fileSize, options: options)
        let ts = layout.transferSyntax
        return HeaderSummary(
            path: path, fileSize: fileSize, transferSyntaxUID: ts.uid,
            sopClassUID: ds.string(.sopClassUID) ?? layout.meta.string(.mediaStorageSOPClassUID),
            sopInstanceUID: ds.string(.sopInstanceUID) ?? layout.meta.string(.mediaStorageSOPInstanceUID),
            patientID: ds.string(.patientID), patientName: ds.string(.patientName),
            studyInstanceUID: ds.string(.studyInstanceUID), seriesInstanceUID: ds.string(.seriesInstanceUID),
            modality: ds.string(.modality), studyDate: ds.string(.studyDate),
            accessionNumber: ds.string(.accessionNumber), instanceNumber: ds.integer(.instanceNumber),
            pixel: try PixelAttributes(ds), pixelData: pixelData, hasFileMeta: layout.hasFileMeta,
            dataSetOffset: layout.dataSetOffset, quirks: layout.quirks + encodingQuirks,
            mustRewrite: !encodingQuirks.isEmpty)
    }

    static func parse(
        prefix: [UInt8], fileSize: Int, options: ReadOptions
    ) throws(DICOMError) -> (layout: FileLayout, dataSet: DataSet, pixelData: PixelDataLocation?, quirks: [String]) {
        let complete = prefix.count >= fileSize
        let layout = try FileLayout.detect(prefix, complete: complete)
        let ts = layout.transferSyntax
        let ds: DataSet
        var pixelData: PixelDataLocation?
        var encodingQuirks: [String] = []
        if ts.isDeflated {
            // Offsets inside a deflated data set do not map to the file; pixel location stays nil.
            let (inflated, ended) = try Part10Reader.inflated(prefix[layout.dataSetOffset...], options: options)
            var parser = DataSetParser(storage: inflated, isComplete: complete || ended, base: 0)
            parser.stopAtPixelData = true
            ds = try parser.parseDataSet(from: 0, to: inflated.count, depth: 0, delimited: false, Encoding(ts)).0
            encodingQuirks = parser.quirks
        } else {
            var parser = DataSetParser(storage: prefix, isComplete: complete, base: 0, streamSize: fileSize)
            parser.stopAtPixelData = true
            ds = try parser.parseDataSet(
                from: layout.dataSetOffset, to: prefix.count, depth: 0, delimited: false, Encoding(ts)
            ).0
            pixelData = parser.pixelData
            encodingQuirks = parser.quirks
        }
        if let location = pixelData, let length = location.length, location.valueOffset + length > fileSize {
            throw DICOMError(
                .truncated, "Pixel Data length \(length) runs past the end of the file (\(fileSize) bytes)",
                offset: location.elementOffset, tag: .pixelData)
        }
        return (layout, ds, pixelData, encodingQuirks)
    }
}
