import FerryDICOM

/// Changes a data set's transfer syntax: decodes encapsulated pixel data with its codec,
/// encodes native pixel data with the target's, and checks every lossless encoding by
/// decoding it again and comparing with the source pixels before it is used. The data set
/// follows DICOM's (and DCMTK's) conventions: Photometric Interpretation when a codec changes
/// the colour model; Lossy Image Compression (0028,2110/2112/2114) for lossy sources and lossy
/// encodings; and for a lossy encoding a new SOP Instance UID (derived from the old one, so a
/// retry sends the same), Image Type DERIVED and a Source Image Sequence naming the original.
public struct Transcoder: Sendable {
    public var verifyLossless = true
    public init(verifyLossless: Bool = true) { self.verifyLossless = verifyLossless }

    /// The data set in `target` (with Pixel Data converted), ready for DataSetWriter(target).
    public func transcode(_ ds: DataSet, from source: TransferSyntax, to target: TransferSyntax) throws -> DataSet {
        guard ds[.pixelData] != nil, source.isEncapsulated || target.isEncapsulated, source != target else { return ds }
        guard let attributes = try PixelAttributes(ds) else {
            throw CodecError("no pixel attributes (Rows, Columns, Bits Allocated ...)", code: .mismatch)
        }
        try attributes.validate()
        var image = ImageDescription(attributes)
        let decoder = source.isEncapsulated ? Codecs.codec(for: source) : nil
        let frames = try nativeFrames(ds, source: source, image: image, count: attributes.numberOfFrames)
        if let decoder { image.photometric = decoder.photometricAfterDecoding(image) }
        var out = ds
        let nativeBytes = frames.reduce(0) { $0 + $1.count }
        if target.isEncapsulated {
            guard let codec = Codecs.encoder(for: target) else { throw CodecError("no encoder for \(target.name)", code: .unsupported) }
            var fragments: [ArraySlice<UInt8>] = []
            for (i, frame) in frames.enumerated() {
                let encoded = try codec.encode(frame, image: image)
                if verifyLossless && target.isLossless {
                    let back = try codec.decode([encoded[...]], image: image)
                    guard back[...] == frame else {
                        throw CodecError(
                            "\(target.name) encoding of frame \(i + 1) does not decode to the source pixels", code: .verification)
                    }
                }
                fragments.append(encoded[...])
            }
            out[.pixelData] = DataElement(
                tag: .pixelData, vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: fragments)))
            let encodedBytes = fragments.reduce(0) { $0 + $1.count }
            image.photometric = codec.photometricAfterEncoding(image)
            if !target.isLossless, let method = codec.lossyMethod {
                Self.markLossy(
                    &out, ratio: Double(nativeBytes) / Double(max(1, encodedBytes)), method: method, target: target)
            }
        } else {
            let native = frames.flatMap { $0 }
            out[.pixelData] = DataElement(.pixelData, attributes.bitsAllocated > 8 ? .OW : .OB, bytes: native)
        }
        if !source.isLossless, out.string(.lossyImageCompression) != "01" {
            // Decoded from a lossy stream: the pixels keep the loss, the data set says so.
            out.set(.lossyImageCompression, .CS, "01")
            if out[.lossyImageCompressionMethod] == nil, let method = decoder?.lossyMethod {
                out.set(.lossyImageCompressionMethod, .CS, method)
            }
        }
        if image.photometric != attributes.photometricInterpretation {
            out.set(.photometricInterpretation, .CS, image.photometric)
        }
        out[.extendedOffsetTable] = nil
        out[.extendedOffsetTableLengths] = nil
        return out
    }

    /// PS3.3 C.7.6.1.1.5 and DCMTK's dcmcjpeg: the lossy attributes (ratio and method appended
    /// to earlier ones), and a new instance derived from the original.
    static func markLossy(_ ds: inout DataSet, ratio: Double, method: String, target: TransferSyntax) {
        func appended(_ tag: Tag, _ value: String) -> String {
            guard let old = ds.string(tag), !old.isEmpty else { return value }
            return old + "\\" + value
        }
        let ratioText = "\((ratio * 100).rounded() / 100)"
        ds.set(.lossyImageCompression, .CS, "01")
        ds.set(.lossyImageCompressionRatio, .DS, appended(.lossyImageCompressionRatio, ratioText))
        ds.set(.lossyImageCompressionMethod, .CS, appended(.lossyImageCompressionMethod, method))
        guard let oldInstance = ds.string(.sopInstanceUID), let sopClass = ds.string(.sopClassUID) else { return }
        ds.set(.sopInstanceUID, .UI, UIDGenerator.derived(from: oldInstance, salt: target.uid))
        var source = DataSet()
        source.set(.referencedSOPClassUID, .UI, sopClass)
        source.set(.referencedSOPInstanceUID, .UI, oldInstance)
        ds[.sourceImageSequence] = DataElement(tag: .sourceImageSequence, vr: .SQ, value: .sequence([source]))
        if let type = ds.string(.imageType), !type.isEmpty {
            ds.set(
                .imageType, .CS,
                (["DERIVED"]
                    + type.split(separator: "\\", omittingEmptySubsequences: false).dropFirst().map(String.init))
                    .joined(separator: "\\"))
        }
        ds.set(
            .derivationDescription, .ST,
            appended(.derivationDescription, "Lossy compression with \(target.name), ratio \(ratioText):1"))
    }

    /// The native frames of the data set's pixel data, decoding it if it is encapsulated.
    func nativeFrames(
        _ ds: DataSet, source: TransferSyntax, image: ImageDescription, count: Int
    ) throws -> [ArraySlice<UInt8>] {
        guard let frameLength = image.frameLength else { throw CodecError("image size overflows", code: .mismatch) }
        if let frames = try ds.encapsulatedFrames() {
            guard let codec = Codecs.codec(for: source) else { throw CodecError("no decoder for \(source.name)", code: .unsupported) }
            guard frames.count == count else {
                throw CodecError("\(frames.count) frames in the pixel data, Number of Frames says \(count)", code: .mismatch)
            }
            return try frames.map { try codec.decode($0, image: image)[...] }
        }
        guard let bytes = ds[.pixelData]?.bytes else {
            throw CodecError("Pixel Data is neither native nor encapsulated")
        }
        guard bytes.count >= frameLength * count else {
            throw CodecError("Pixel Data has \(bytes.count) bytes, \(count) frames need \(frameLength * count)", code: .mismatch)
        }
        return (0..<count).map {
            bytes[(bytes.startIndex + $0 * frameLength)..<(bytes.startIndex + ($0 + 1) * frameLength)]
        }
    }
}
