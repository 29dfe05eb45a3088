import FerryDICOM

/// Changes a data set's transfer syntax: decodes encapsulated pixel data with its codec,
/// encodes native pixel data with the target's, and checks every lossless encoding by
/// decoding it again and comparing with the source pixels before it is used.
public struct Transcoder: Sendable {
    public var verifyLossless = true
    public init() {}

    /// The data set in `target` (with Pixel Data converted), ready for DataSetWriter(target).
    public func transcode(_ ds: DataSet, from source: TransferSyntax, to target: TransferSyntax) throws -> DataSet {
        guard ds[.pixelData] != nil, source.isEncapsulated || target.isEncapsulated, source != target else { return ds }
        guard let attributes = try PixelAttributes(ds) else { throw CodecError("no pixel attributes (Rows, Columns, Bits Allocated ...)") }
        try attributes.validate()
        let image = ImageDescription(attributes)
        let frames = try nativeFrames(ds, source: source, image: image, count: attributes.numberOfFrames)
        var out = ds
        if target.isEncapsulated {
            guard let codec = Codecs.encoder(for: target) else { throw CodecError("no encoder for \(target.name)") }
            var fragments: [ArraySlice<UInt8>] = []
            for (i, frame) in frames.enumerated() {
                let encoded = try codec.encode(frame, image: image)
                if verifyLossless && target.isLossless {
                    let back = try codec.decode([encoded[...]], image: image)
                    guard back[...] == frame else { throw CodecError("\(target.name) encoding of frame \(i + 1) does not decode to the source pixels") }
                }
                fragments.append(encoded[...])
            }
            out[.pixelData] = DataElement(tag: .pixelData, vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: fragments)))
        } else {
            let native = frames.flatMap { $0 }
            out[.pixelData] = DataElement(.pixelData, attributes.bitsAllocated > 8 ? .OW : .OB, bytes: native)
        }
        out[.extendedOffsetTable] = nil
        return out
    }

    /// The native frames of the data set's pixel data, decoding it if it is encapsulated.
    func nativeFrames(_ ds: DataSet, source: TransferSyntax, image: ImageDescription, count: Int) throws -> [ArraySlice<UInt8>] {
        guard let frameLength = image.frameLength else { throw CodecError("image size overflows") }
        if let frames = try ds.encapsulatedFrames() {
            guard let codec = Codecs.codec(for: source) else { throw CodecError("no decoder for \(source.name)") }
            guard frames.count == count else { throw CodecError("\(frames.count) frames in the pixel data, Number of Frames says \(count)") }
            return try frames.map { try codec.decode($0, image: image)[...] }
        }
        guard let bytes = ds[.pixelData]?.bytes else { throw CodecError("Pixel Data is neither native nor encapsulated") }
        guard bytes.count >= frameLength * count else {
            throw CodecError("Pixel Data has \(bytes.count) bytes, \(count) frames need \(frameLength * count)")
        }
        return (0..<count).map { bytes[(bytes.startIndex + $0 * frameLength)..<(bytes.startIndex + ($0 + 1) * frameLength)] }
    }
}
