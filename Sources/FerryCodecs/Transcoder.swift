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
    /// The most decoded pixel data (all frames) one file may need, in bytes. The size comes
    /// from the data set's attributes, which a file of a few hundred bytes can set to tens of
    /// gigabytes: a file over the budget is refused before anything is decoded or allocated.
    /// Frames are decoded one at a time, so re-encoding holds one decoded frame at once.
    public var pixelBudget: Int

    /// 2 GiB: past every single-frame modality image; a large multi-frame (a whole-slide
    /// image, a long US cine) may need a larger budget (job setting or flag).
    public static let defaultPixelBudget = 2 << 30

    public init(verifyLossless: Bool = true, pixelBudget: Int = Transcoder.defaultPixelBudget) {
        self.verifyLossless = verifyLossless
        self.pixelBudget = pixelBudget
    }

    /// The data set in `target` (with Pixel Data converted), ready for DataSetWriter(target).
    public func transcode(_ ds: DataSet, from source: TransferSyntax, to target: TransferSyntax) throws -> DataSet {
        guard ds[.pixelData] != nil, source.isEncapsulated || target.isEncapsulated, source != target else { return ds }
        guard let attributes = try PixelAttributes(ds) else {
            throw CodecError("no pixel attributes (Rows, Columns, Bits Allocated ...)", code: .mismatch)
        }
        try attributes.validate()
        var image = ImageDescription(attributes)
        let frames = try FrameSource(
            ds, source: source, image: image, count: attributes.numberOfFrames, budget: pixelBudget)
        let decoder = source.isEncapsulated ? Codecs.codec(for: source) : nil
        if let decoder { image.photometric = decoder.photometricAfterDecoding(image) }
        var out = ds
        if target.isEncapsulated {
            guard let codec = Codecs.encoder(for: target) else {
                throw CodecError("no encoder for \(target.name)", code: .unsupported)
            }
            var fragments: [ArraySlice<UInt8>] = []
            for i in 0..<frames.count {
                let frame = try frames.frame(i)
                do throws(CodecError) {
                    let encoded = try codec.encode(frame, image: image)
                    if verifyLossless && target.isLossless {
                        let back = try codec.decode([encoded[...]], image: image)
                        guard back[...] == frame else {
                            throw CodecError(
                                "\(target.name) encoding does not decode to the source pixels", code: .verification)
                        }
                    }
                    fragments.append(encoded[...])
                } catch {
                    throw error.inFrame(i)
                }
            }
            out[.pixelData] = DataElement(
                tag: .pixelData, vr: .OB, value: .encapsulated(EncapsulatedPixelData(fragments: fragments)))
            let encodedBytes = fragments.reduce(0) { $0 + $1.count }
            image.photometric = codec.photometricAfterEncoding(image)
            if !target.isLossless, let method = codec.lossyMethod {
                Self.markLossy(
                    &out, ratio: Double(frames.totalBytes) / Double(max(1, encodedBytes)), method: method,
                    target: target)
            }
        } else {
            // Room for every frame once the first has decoded: a stream that only claims its size
            // is refused by its codec before this.
            var native: [UInt8] = []
            for i in 0..<frames.count {
                let frame = try frames.frame(i)
                if i == 0 { native.reserveCapacity(frames.totalBytes) }
                native += frame
            }
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
}

/// The frames of a data set's pixel data, one native frame at a time: decoded on demand from
/// its encapsulated fragments, or sliced from native pixel data. Made only for an image whose
/// pixel data fits the budget.
struct FrameSource {
    let count: Int
    let frameLength: Int
    let totalBytes: Int
    private let image: ImageDescription
    private let encapsulated: [[ArraySlice<UInt8>]]?
    private let codec: (any PixelCodec)?
    private let native: ArraySlice<UInt8>?

    init(_ ds: DataSet, source: TransferSyntax, image: ImageDescription, count: Int, budget: Int) throws {
        guard let frameLength = image.frameLength else {
            throw CodecError("image size overflows", code: .mismatch)
        }
        let (total, overflow) = frameLength.multipliedReportingOverflow(by: count)
        guard !overflow, total <= budget else {
            throw CodecError(
                "the image needs \(overflow ? "more than \(ByteCount.describe(Int.max))" : ByteCount.describe(total)) of decoded pixel data (\(image.columns)x\(image.rows), \(image.samplesPerPixel) samples of \(image.bitsAllocated) bits, \(count) frames), over the pixel budget of \(ByteCount.describe(budget))",
                code: .overBudget)
        }
        self.count = count
        self.frameLength = frameLength
        self.totalBytes = total
        self.image = image
        if let frames = try ds.encapsulatedFrames() {
            guard let codec = Codecs.codec(for: source) else {
                throw CodecError("no decoder for \(source.name)", code: .unsupported)
            }
            guard frames.count == count else {
                throw CodecError(
                    "\(frames.count) frames in the pixel data, Number of Frames says \(count)", code: .mismatch)
            }
            encapsulated = frames
            self.codec = codec
            native = nil
        } else {
            guard let bytes = ds[.pixelData]?.bytes else {
                throw CodecError("Pixel Data is neither native nor encapsulated", code: .mismatch)
            }
            guard bytes.count >= total else {
                throw CodecError(
                    "Pixel Data has \(bytes.count) bytes, \(count) frames need \(total)", code: .mismatch)
            }
            encapsulated = nil
            codec = nil
            native = bytes[...]
        }
    }

    /// Native frame `i` (0-based), decoded if the pixel data is encapsulated.
    func frame(_ i: Int) throws(CodecError) -> ArraySlice<UInt8> {
        if let native {
            let start = native.startIndex + i * frameLength
            return native[start..<start + frameLength]
        }
        guard let encapsulated, let codec else { return [] }
        do throws(CodecError) {
            let decoded = try codec.decode(encapsulated[i], image: image)
            guard decoded.count == frameLength else {
                throw CodecError(
                    "decoded \(decoded.count) bytes for a frame of \(frameLength)", code: .mismatch)
            }
            return decoded[...]
        } catch {
            throw error.inFrame(i)
        }
    }
}
