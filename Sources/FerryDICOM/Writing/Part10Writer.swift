/// Writes DICOM Part 10 files (PS3.10 7.1): preamble, "DICM", file meta, data set.
public enum Part10Writer {
    /// The file meta for a data set: version 00 01, SOP class and instance from the data set,
    /// the transfer syntax, and Ferry's implementation class UID and version name.
    public static func fileMeta(for ds: DataSet, transferSyntax: TransferSyntax, sourceAE: String? = nil) -> DataSet {
        var meta = DataSet()
        meta[.fileMetaInformationVersion] = DataElement(.fileMetaInformationVersion, .OB, bytes: [0x00, 0x01])
        meta.set(.mediaStorageSOPClassUID, .UI, ds.string(.sopClassUID) ?? "")
        meta.set(.mediaStorageSOPInstanceUID, .UI, ds.string(.sopInstanceUID) ?? "")
        meta.set(.transferSyntaxUID, .UI, transferSyntax.uid)
        meta.set(.implementationClassUID, .UI, UIDGenerator.implementationClassUID)
        meta.set(.implementationVersionName, .SH, UIDGenerator.implementationVersionName)
        if let sourceAE { meta.set(.sourceApplicationEntityTitle, .AE, sourceAE) }
        return meta
    }

    /// The file meta for an instance known by its UIDs (a receiver writing what arrives).
    public static func fileMeta(
        sopClass: String, sopInstance: String, transferSyntax: TransferSyntax, sourceAE: String? = nil
    ) -> DataSet {
        var ds = DataSet()
        ds.set(.sopClassUID, .UI, sopClass)
        ds.set(.sopInstanceUID, .UI, sopInstance)
        return fileMeta(for: ds, transferSyntax: transferSyntax, sourceAE: sourceAE)
    }

    /// Preamble, "DICM" and the encoded file meta (group length computed): what precedes a
    /// data set streamed into a file as it is.
    public static func encodeMetaWithPreamble(_ meta: DataSet) throws(DICOMError) -> [UInt8] {
        var metaSet = meta
        metaSet[.fileMetaInformationGroupLength] = DataElement(
            .fileMetaInformationGroupLength, .UL, bytes: [0, 0, 0, 0])
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        try DataSetWriter(encoding: .explicitLittle).write(metaSet, into: &out)
        return out
    }

    /// Encodes a whole file. The meta's group length is computed; the data set is encoded
    /// in `transferSyntax` (and deflated for the deflated syntax, at zlib level `deflateLevel`).
    public static func encode(
        _ ds: DataSet, transferSyntax: TransferSyntax, meta: DataSet? = nil, deflateLevel: Int32 = Deflate.defaultLevel
    ) throws(DICOMError) -> [UInt8] {
        var metaSet = meta ?? fileMeta(for: ds, transferSyntax: transferSyntax)
        metaSet.set(.transferSyntaxUID, .UI, transferSyntax.uid)
        metaSet[.fileMetaInformationGroupLength] = DataElement(
            .fileMetaInformationGroupLength, .UL, bytes: [0, 0, 0, 0])
        var out = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        try DataSetWriter(encoding: .explicitLittle).write(metaSet, into: &out)
        let body = try DataSetWriter(transferSyntax).encode(ds.withoutGroup(0x0002))
        out += transferSyntax.isDeflated ? try Deflate.deflatedDataSet(body, level: deflateLevel) : body
        return out
    }
}

extension DataSet {
    /// The data set without elements of `group` (file meta never belongs in a data set).
    public func withoutGroup(_ group: UInt16) -> DataSet {
        guard elements.contains(where: { $0.tag.group == group }) else { return self }
        return DataSet(elements.filter { $0.tag.group != group })
    }
}
