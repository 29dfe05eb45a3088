/// How a file is laid out: preamble, file meta, and where the data set starts in which syntax.
public struct FileLayout: Sendable {
    public var hasPreamble: Bool
    public var meta: DataSet
    public var hasFileMeta: Bool { !meta.isEmpty }
    public var transferSyntax: TransferSyntax
    /// Offset of the first data set byte in the file (after the meta group).
    public var dataSetOffset: Int
    /// Tolerated deviations from PS3.10, for reports (e.g. "no preamble", "meta group length wrong").
    public var quirks: [String]

    /// Detects the layout from the first bytes of a file. `complete` tells whether
    /// `prefix` is the whole file; if not and more is needed, throws `.needMoreData`.
    static func detect(_ prefix: [UInt8], complete: Bool) throws(DICOMError) -> FileLayout {
        if prefix.isEmpty { throw DICOMError(.notDICOM, "empty file", offset: 0) }
        let dicm: [UInt8] = [0x44, 0x49, 0x43, 0x4D]
        if prefix.count >= 132, Array(prefix[128..<132]) == dicm {
            return try withMeta(prefix, complete: complete, metaStart: 132, hasPreamble: true)
        }
        if prefix.count < 132 && !complete { throw DICOMError(.needMoreData, "short prefix") }
        if prefix.count >= 4, Array(prefix[0..<4]) == dicm {
            var layout = try withMeta(prefix, complete: complete, metaStart: 4, hasPreamble: false)
            layout.quirks.append("DICM prefix without preamble")
            return layout
        }
        // No preamble: a meta group starting at 0, or a bare data set (ACR-NEMA style).
        guard prefix.count >= 8 else {
            if !complete { throw DICOMError(.needMoreData, "short prefix") }
            throw DICOMError(.notDICOM, "\(prefix.count) bytes: too short for DICOM", offset: 0)
        }
        let groupLE = UInt16(prefix[0]) | UInt16(prefix[1]) << 8
        if groupLE == 0x0002 {
            var layout = try withMeta(prefix, complete: complete, metaStart: 0, hasPreamble: false)
            layout.quirks.append("no preamble")
            return layout
        }
        guard let encoding = guessEncoding(prefix) else {
            throw DICOMError(.notDICOM, "no preamble, no DICM and no plausible first element", offset: 0)
        }
        let ts = TransferSyntax.uncompressed(encoding)
        return FileLayout(
            hasPreamble: false, meta: DataSet(), transferSyntax: ts, dataSetOffset: 0,
            quirks: ["no preamble and no file meta, read as \(ts.name)"])
    }

    /// Guesses the encoding of a bare data set from its first element, as DCMTK does:
    /// a small even group, then a VR or a plausible implicit length. Group 0x0008 read in the
    /// wrong byte order is 0x0800, also small and even: with a VR, the byte order whose tag
    /// the dictionary knows wins (the smaller group when it knows both or neither).
    static func guessEncoding(_ b: [UInt8]) -> Encoding? {
        let groupLE = UInt16(b[0]) | UInt16(b[1]) << 8
        let groupBE = UInt16(b[0]) << 8 | UInt16(b[1])
        let vrLooksValid = (0x41...0x5A).contains(b[4]) && (0x41...0x5A).contains(b[5]) && VR(b[4], b[5]).isKnown
        func plausible(_ g: UInt16) -> Bool { g >= 0x0002 && g <= 0x0FFF && g & 1 == 0 }
        if vrLooksValid && plausible(groupLE) && plausible(groupBE) {
            let le = Tag(groupLE, UInt16(b[2]) | UInt16(b[3]) << 8).keyword != nil
            let be = Tag(groupBE, UInt16(b[2]) << 8 | UInt16(b[3])).keyword != nil
            if le != be { return le ? .explicitLittle : .explicitBig }
            return groupLE <= groupBE ? .explicitLittle : .explicitBig
        }
        if plausible(groupLE) {
            if vrLooksValid { return .explicitLittle }
            let length = UInt32(b[4]) | UInt32(b[5]) << 8 | UInt32(b[6]) << 16 | UInt32(b[7]) << 24
            return length < 0x0100_0000 || length == 0xFFFF_FFFF ? .implicitLittle : nil
        }
        if plausible(groupBE) && vrLooksValid { return .explicitBig }
        return nil
    }

    private static func withMeta(
        _ b: [UInt8], complete: Bool, metaStart: Int, hasPreamble: Bool
    ) throws(DICOMError) -> FileLayout {
        var quirks: [String] = []
        // The meta group is explicit VR little endian (PS3.10 7.1); read elements while the group is 0002.
        var parser = DataSetParser(storage: b, isComplete: complete, base: 0)
        var meta = DataSet()
        var pos = metaStart
        var encoding = Encoding.explicitLittle
        while true {
            if pos + 8 > b.count {
                if !complete { throw DICOMError(.needMoreData, "file meta continues past the prefix") }
                break
            }
            let group = UInt16(b[pos]) | UInt16(b[pos + 1]) << 8
            guard group == 0x0002 else { break }
            if encoding.explicitVR && !((0x41...0x5A).contains(b[pos + 4]) && (0x41...0x5A).contains(b[pos + 5])) {
                encoding = .implicitLittle
                quirks.append("file meta in implicit VR")
            }
            let (one, next) = try parser.parseOneElement(at: pos, enc: encoding)
            meta.appendRead(one)
            pos = next
        }
        if let declared = meta.integer(.fileMetaInformationGroupLength),
            let start = meta[.fileMetaInformationGroupLength]?.sourceOffset
        {
            let actual = pos - (start + 12)
            if declared != actual { quirks.append("meta group length \(declared), actual \(actual)") }
        }
        guard !meta.isEmpty else {
            throw DICOMError(.invalidFileMeta, "DICM present but no group 0002 elements", offset: metaStart)
        }
        let ts: TransferSyntax
        if let uid = meta.string(.transferSyntaxUID).map(UIDGrammar.trimmed), !uid.isEmpty {
            guard let known = TransferSyntax.lookup(uid) else {
                throw DICOMError(
                    .unsupportedTransferSyntax, "transfer syntax \(uid) is not registered",
                    offset: meta[.transferSyntaxUID]?.sourceOffset, tag: .transferSyntaxUID)
            }
            ts = known
        } else {
            guard pos + 8 <= b.count, let guessed = guessEncoding(Array(b[pos..<(pos + 8)])) else {
                throw DICOMError(
                    .invalidFileMeta, "file meta has no Transfer Syntax UID", offset: metaStart, tag: .transferSyntaxUID
                )
            }
            ts = TransferSyntax.uncompressed(guessed)
            quirks.append("no Transfer Syntax UID in file meta, read as \(ts.name)")
        }
        return FileLayout(hasPreamble: hasPreamble, meta: meta, transferSyntax: ts, dataSetOffset: pos, quirks: quirks)
    }
}
