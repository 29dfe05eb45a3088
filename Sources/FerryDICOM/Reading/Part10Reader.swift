/// A DICOM file as read: its file meta, data set and layout.
public struct DICOMFile: Sendable {
    public var layout: FileLayout
    public var dataSet: DataSet
    public var meta: DataSet { layout.meta }
    public var transferSyntax: TransferSyntax { layout.transferSyntax }
}

/// Options bounding what a read may allocate.
public struct ReadOptions: Sendable {
    /// Largest inflated data set accepted from a deflated file (a deflate bomb stops here).
    public var maxInflatedSize = Deflate.defaultMaxInflatedSize
    public init() {}
}

/// Reads DICOM Part 10 files (PS3.10 7), files without preamble, and bare ACR-NEMA style data sets.
public enum Part10Reader {
    public static func read(path: String, options: ReadOptions = ReadOptions()) throws(DICOMError) -> DICOMFile {
        do {
            return try read(bytes: try FileBytes.readAll(path), options: options)
        } catch {
            throw error.at(path: path)
        }
    }

    public static func read(bytes: [UInt8], options: ReadOptions = ReadOptions()) throws(DICOMError) -> DICOMFile {
        let layout = try FileLayout.detect(bytes, complete: true)
        let ts = layout.transferSyntax
        if ts.isDeflated {
            let compressed = bytes[layout.dataSetOffset...]
            let (inflated, _) = try inflated(compressed, options: options)
            var parser = DataSetParser(storage: inflated, isComplete: true, base: 0)
            do {
                let (ds, _) = try parser.parseDataSet(
                    from: 0, to: inflated.count, depth: 0, delimited: false, Encoding(ts))
                var read = layout
                read.quirks += parser.quirks
                return DICOMFile(layout: read, dataSet: ds)
            } catch {
                var e = error
                e.message += " (offset in the inflated data set)"
                throw e
            }
        }
        var parser = DataSetParser(storage: bytes, isComplete: true, base: 0)
        let (ds, _) = try parser.parseDataSet(
            from: layout.dataSetOffset, to: bytes.count, depth: 0, delimited: false, Encoding(ts))
        var read = layout
        read.quirks += parser.quirks
        return DICOMFile(layout: read, dataSet: ds)
    }

    static func inflated(
        _ compressed: ArraySlice<UInt8>, options: ReadOptions
    ) throws(DICOMError) -> ([UInt8], Bool) {
        let (out, ended) = try Deflate.inflate(compressed, maxOutput: options.maxInflatedSize)
        if !ended && out.count >= options.maxInflatedSize {
            throw DICOMError(.inflate, "deflated data set inflates past \(options.maxInflatedSize) bytes")
        }
        return (out, ended)
    }
}

/// Decodes a bare data set (no preamble, no meta) in a known encoding: DIMSE command sets
/// (implicit VR little endian, PS3.7 6.3.1) and data sets received over the network.
public enum DataSetDecoder {
    public static func decode(_ bytes: [UInt8], encoding: Encoding) throws(DICOMError) -> DataSet {
        var parser = DataSetParser(storage: bytes, isComplete: true, base: 0)
        return try parser.parseDataSet(from: 0, to: bytes.count, depth: 0, delimited: false, encoding).0
    }
}
