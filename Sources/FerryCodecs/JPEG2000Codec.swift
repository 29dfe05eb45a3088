import COpenJPEG
import FerryDICOM

/// JPEG 2000 (4.90 lossless, 4.91) through OpenJPEG, from and to memory. The codestream's
/// size, component count and precision are checked against the data set before decoding.
/// Encoding writes a bare J2K codestream (PS3.5 A.4.4): reversible 5/3 wavelet for 4.90,
/// irreversible 9/7 at `lossyRatio`:1 for 4.91; colour images with the component transform
/// (RCT or ICT), so their Photometric Interpretation becomes YBR_RCT or YBR_ICT.
/// High-Throughput JPEG 2000 (4.201-4.203) is decoded by the same path (OpenJPEG 2.5 reads
/// HT code-blocks); OpenJPEG cannot write them, so those syntaxes are decode-only.
public struct JPEG2000Codec: PixelCodec {
    public let transferSyntax: TransferSyntax
    public var canEncode: Bool { !Self.highThroughput.contains(transferSyntax.uid) }
    static let highThroughput: Set<String> = [
        TransferSyntax.htj2kLossless.uid, TransferSyntax.htj2kLosslessRPCL.uid, TransferSyntax.htj2k.uid,
    ]
    /// Target compression ratio of 4.91 encodings.
    public var lossyRatio: Float = 10
    public init(_ ts: TransferSyntax = .jpeg2000Lossless) { transferSyntax = ts }

    public var lossyMethod: String? { transferSyntax.isLossless ? nil : "ISO_15444_1" }
    public var decodesInCLibrary: Bool { true }

    public func photometricAfterDecoding(_ image: ImageDescription) -> String {
        ["YBR_RCT", "YBR_ICT"].contains(image.photometric) ? "RGB" : image.photometric
    }

    public func photometricAfterEncoding(_ image: ImageDescription) -> String {
        guard image.samplesPerPixel == 3, image.photometric == "RGB" else { return image.photometric }
        return transferSyntax.isLossless ? "YBR_RCT" : "YBR_ICT"
    }

    /// The codestream OpenJPEG writes (the stream's user data).
    final class Sink {
        var bytes: [UInt8] = []
        var position = 0
    }

    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        try checkEncodable(frame, image: image)
        let img = try Self.createImage(image)
        defer { opj_image_destroy(img) }
        try Self.copySamples(frame, into: img, image: image)
        var parameters = opj_cparameters_t()
        setEncoderParameters(&parameters, image: image)
        guard let codec = opj_create_compress(OPJ_CODEC_J2K) else {
            throw CodecError("JPEG 2000: cannot create an encoder", code: .library)
        }
        defer { opj_destroy_codec(codec) }
        Self.silence(codec)
        guard opj_setup_encoder(codec, &parameters, img) != 0 else {
            throw CodecError("JPEG 2000: cannot set up the encoder", code: .library)
        }
        let sink = Sink()
        guard let stream = opj_stream_create(1 << 16, 0) else {
            throw CodecError("JPEG 2000: cannot create a stream", code: .library)
        }
        defer { opj_stream_destroy(stream) }
        Self.setWriteCallbacks(of: stream, into: sink)
        guard opj_start_compress(codec, img, stream) != 0, opj_encode(codec, stream) != 0,
            opj_end_compress(codec, stream) != 0
        else {
            throw CodecError("JPEG 2000: encoding failed", code: .library)
        }
        var out = sink.bytes
        if out.count % 2 == 1 { out.append(0) }  // fragments are even (PS3.5 A.4)
        return out
    }

    /// What OpenJPEG can write: not HTJ2K; a whole frame of 8- or 16-bit samples, 1 or 3 per
    /// pixel, in a colour model JPEG 2000 keeps as it is (or turns into YBR_RCT/YBR_ICT).
    private func checkEncodable(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) {
        guard canEncode else {
            throw CodecError("JPEG 2000: OpenJPEG cannot write \(transferSyntax.name)", code: .unsupported)
        }
        guard let frameLength = image.frameLength, frame.count >= frameLength else {
            throw CodecError("JPEG 2000: frame shorter than the image", code: .mismatch)
        }
        let bytes = image.bitsAllocated / 8
        guard bytes == 1 || bytes == 2, (1...bytes * 8).contains(image.bitsStored) else {
            throw CodecError(
                "JPEG 2000: cannot encode Bits Allocated \(image.bitsAllocated), Bits Stored \(image.bitsStored)")
        }
        guard image.samplesPerPixel == 1 || image.samplesPerPixel == 3 else {
            throw CodecError("JPEG 2000: \(image.samplesPerPixel) samples per pixel", code: .unsupported)
        }
        guard ["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR"].contains(image.photometric) else {
            throw CodecError(
                "JPEG 2000: cannot encode Photometric Interpretation \(image.photometric)", code: .unsupported)
        }
    }

    /// An OpenJPEG image of the data set's size and sample format, its samples not yet set.
    /// The caller owns it (opj_image_destroy).
    private static func createImage(_ image: ImageDescription) throws(CodecError) -> UnsafeMutablePointer<opj_image_t> {
        let count = image.samplesPerPixel, width = image.columns, height = image.rows
        var params = [opj_image_cmptparm_t](repeating: opj_image_cmptparm_t(), count: count)
        for c in 0..<count {
            params[c].dx = 1; params[c].dy = 1
            params[c].w = OPJ_UINT32(width); params[c].h = OPJ_UINT32(height)
            params[c].prec = OPJ_UINT32(image.bitsStored)
            params[c].sgnd = image.isSigned ? 1 : 0
        }
        guard let img = opj_image_create(OPJ_UINT32(count), &params, count == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY)
        else {
            throw CodecError("JPEG 2000: cannot create an image", code: .library)
        }
        img.pointee.x0 = 0; img.pointee.y0 = 0
        img.pointee.x1 = OPJ_UINT32(width); img.pointee.y1 = OPJ_UINT32(height)
        return img
    }

    /// The frame's samples into the image's components, one plane each.
    private static func copySamples(
        _ frame: ArraySlice<UInt8>, into img: UnsafeMutablePointer<opj_image_t>, image: ImageDescription
    ) throws(CodecError) {
        guard let comps = img.pointee.comps else { throw CodecError("JPEG 2000: no components") }
        let count = image.samplesPerPixel, pixels = image.columns * image.rows
        let bytes = image.bitsAllocated / 8
        let shift = 32 - image.bitsStored
        frame.withUnsafeBufferPointer { src in
            for c in 0..<count {
                guard let data = comps[c].data else { continue }
                for p in 0..<pixels {
                    let o = image.planarConfiguration == 1 ? c * pixels + p : p * count + c
                    var v = bytes == 1 ? Int32(src[o]) : Int32(src[2 * o]) | Int32(src[2 * o + 1]) << 8
                    // Only Bits Stored bits are the sample; sign-extend them when signed.
                    v =
                        image.isSigned
                        ? (v << shift) >> shift : Int32(bitPattern: UInt32(bitPattern: v << shift) >> shift)
                    data[p] = v
                }
            }
        }
    }

    /// One quality layer: lossless (reversible 5/3) for 4.90, irreversible 9/7 at `lossyRatio`
    /// for 4.91; the component transform for RGB. In place: the parameters are a large C struct.
    private func setEncoderParameters(_ parameters: inout opj_cparameters_t, image: ImageDescription) {
        opj_set_default_encoder_parameters(&parameters)
        parameters.tcp_numlayers = 1
        parameters.cp_disto_alloc = 1
        parameters.tcp_rates.0 = transferSyntax.isLossless ? 0 : lossyRatio
        parameters.irreversible = transferSyntax.isLossless ? 0 : 1
        parameters.tcp_mct = image.samplesPerPixel == 3 && image.photometric == "RGB" ? 1 : 0
        // Resolutions: at most 6, and the smallest level must keep at least one sample.
        var levels = 6
        while levels > 1 && min(image.columns, image.rows) >> (levels - 1) < 1 { levels -= 1 }
        parameters.numresolution = Int32(levels)
    }

    /// Quiet: errors come back as a failed call.
    private static func silence(_ codec: UnsafeMutablePointer<opj_codec_t?>) {
        opj_set_error_handler(codec, { _, _ in }, nil)
        opj_set_warning_handler(codec, { _, _ in }, nil)
        opj_set_info_handler(codec, { _, _ in }, nil)
    }

    /// Makes `stream` write into `sink`, which it keeps (retained) until it is destroyed.
    private static func setWriteCallbacks(of stream: UnsafeMutablePointer<opj_stream_t?>, into sink: Sink) {
        opj_stream_set_user_data(stream, Unmanaged.passRetained(sink).toOpaque()) { p in
            if let p { Unmanaged<Sink>.fromOpaque(p).release() }
        }
        opj_stream_set_write_function(stream) { buffer, count, user in
            guard let buffer, let user else { return Int.max }
            let s = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
            let end = s.position + count
            if end > s.bytes.count { s.bytes.append(contentsOf: repeatElement(0, count: end - s.bytes.count)) }
            s.bytes.withUnsafeMutableBytes { dst in
                if let base = dst.baseAddress { (base + s.position).copyMemory(from: buffer, byteCount: count) }
            }
            s.position = end
            return count
        }
        opj_stream_set_skip_function(stream) { count, user in
            guard let user else { return -1 }
            let s = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
            let target = s.position + Int(count)
            guard target >= 0 else { return -1 }
            if target > s.bytes.count { s.bytes.append(contentsOf: repeatElement(0, count: target - s.bytes.count)) }
            s.position = target
            return count
        }
        opj_stream_set_seek_function(stream) { offset, user in
            guard let user, offset >= 0 else { return 0 }
            let s = Unmanaged<Sink>.fromOpaque(user).takeUnretainedValue()
            if Int(offset) > s.bytes.count {
                s.bytes.append(contentsOf: repeatElement(0, count: Int(offset) - s.bytes.count))
            }
            s.position = Int(offset)
            return 1
        }
    }

    /// The bytes OpenJPEG reads, and how far it has read (the stream's user data).
    final class Source {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        guard let frameLength = image.frameLength else {
            throw CodecError("JPEG 2000: image size overflows", code: .mismatch)
        }
        // The markers are checked first (sizes, tiles, code-block styles); a JP2 file gives its
        // codestream, which OpenJPEG reads as a bare one.
        let checked = try JPEG2000Codestream(
            fragments.flatMap { $0 }, image: image,
            allowHT: [.htj2kLossless, .htj2kLosslessRPCL, .htj2k].contains(transferSyntax))
        let data = Array(checked.bytes)
        guard let codec = opj_create_decompress(OPJ_CODEC_J2K) else {
            throw CodecError("JPEG 2000: cannot create a decoder", code: .library)
        }
        defer { opj_destroy_codec(codec) }
        Self.silence(codec)
        var parameters = opj_dparameters_t()
        opj_set_default_decoder_parameters(&parameters)
        guard opj_setup_decoder(codec, &parameters) != 0 else {
            throw CodecError("JPEG 2000: cannot set up the decoder", code: .library)
        }

        let source = Source(data)
        guard let stream = opj_stream_create(1 << 16, 1) else {
            throw CodecError("JPEG 2000: cannot create a stream", code: .library)
        }
        defer { opj_stream_destroy(stream) }
        Self.setReadCallbacks(of: stream, from: source)

        var decoded: UnsafeMutablePointer<opj_image_t>?
        guard opj_read_header(stream, codec, &decoded) != 0, let header = decoded else {
            throw CodecError("JPEG 2000: malformed codestream header")
        }
        defer { opj_image_destroy(header) }
        let (count, width, height) = try Self.checkHeader(header, image: image)
        guard opj_decode(codec, stream, header) != 0, opj_end_decompress(codec, stream) != 0 else {
            throw CodecError("JPEG 2000: decoding failed (corrupt codestream?)")
        }
        return try Self.frameBytes(
            of: header, count: count, width: width, height: height, image: image, frameLength: frameLength)
    }

    /// Makes `stream` read `source`, which it keeps (retained) until it is destroyed.
    private static func setReadCallbacks(of stream: UnsafeMutablePointer<opj_stream_t?>, from source: Source) {
        let context = Unmanaged.passRetained(source).toOpaque()
        opj_stream_set_user_data(stream, context) { p in
            if let p { Unmanaged<Source>.fromOpaque(p).release() }
        }
        opj_stream_set_user_data_length(stream, UInt64(source.bytes.count))
        opj_stream_set_read_function(stream) { buffer, count, user in
            // (OPJ_SIZE_T)-1 is the end of the stream: OpenJPEG takes any other value as bytes read.
            guard let buffer, let user else { return -1 }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            let n = min(count, s.bytes.count - s.position)
            guard n > 0 else { return -1 }
            s.bytes.withUnsafeBytes { src in
                if let base = src.baseAddress { buffer.copyMemory(from: base + s.position, byteCount: n) }
            }
            s.position += n
            return n
        }
        opj_stream_set_skip_function(stream) { count, user in
            guard let user else { return -1 }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            let wanted = s.position + Int(count)
            let target = max(0, min(s.bytes.count, wanted))
            let skipped = target - s.position
            s.position = target
            return target == wanted ? Int64(skipped) : -1
        }
        opj_stream_set_seek_function(stream) { offset, user in
            guard let user else { return 0 }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            guard offset >= 0, Int(offset) <= s.bytes.count else { return 0 }
            s.position = Int(offset)
            return 1
        }
    }

    /// The header against the data set before any decoding (size, component count, no
    /// subsampling, precision within Bits Allocated); returns its component count and size.
    private static func checkHeader(
        _ header: UnsafeMutablePointer<opj_image_t>, image: ImageDescription
    ) throws(CodecError) -> (count: Int, width: Int, height: Int) {
        let count = Int(header.pointee.numcomps)
        // In Int: the library's corners are not trusted to be ordered.
        let width = Int(header.pointee.x1) - Int(header.pointee.x0)
        let height = Int(header.pointee.y1) - Int(header.pointee.y0)
        guard width == image.columns, height == image.rows, count == image.samplesPerPixel else {
            throw CodecError(
                "JPEG 2000: the codestream is \(width)x\(height)x\(count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)"
            )
        }
        guard let comps = header.pointee.comps else { throw CodecError("JPEG 2000: no components") }
        for c in 0..<count {
            let comp = comps[c]
            guard comp.dx == 1, comp.dy == 1 else {
                throw CodecError("JPEG 2000: subsampled components are not supported", code: .unsupported)
            }
            guard Int(comp.prec) <= image.bitsAllocated else {
                throw CodecError(
                    "JPEG 2000: \(comp.prec)-bit samples do not fit Bits Allocated \(image.bitsAllocated)",
                    code: .mismatch)
            }
        }
        return (count, width, height)
    }

    /// The decoded image as the data set's frame (Bits Allocated, Planar Configuration).
    private static func frameBytes(
        of header: UnsafeMutablePointer<opj_image_t>, count: Int, width: Int, height: Int, image: ImageDescription,
        frameLength: Int
    ) throws(CodecError) -> [UInt8] {
        // Decoding may replace the component array: read it again, and its sizes with it.
        guard Int(header.pointee.numcomps) == count, let decodedComps = header.pointee.comps else {
            throw CodecError("JPEG 2000: the decoded image has \(header.pointee.numcomps) components", code: .mismatch)
        }
        for c in 0..<count where Int(decodedComps[c].w) != width || Int(decodedComps[c].h) != height {
            throw CodecError(
                "JPEG 2000: component \(c) decoded to \(decodedComps[c].w)x\(decodedComps[c].h)", code: .mismatch)
        }
        let bytes = image.bitsAllocated / 8
        guard bytes == 1 || bytes == 2 else {
            throw CodecError("JPEG 2000: Bits Allocated \(image.bitsAllocated)", code: .unsupported)
        }
        var out = [UInt8](repeating: 0, count: frameLength)
        let pixels = width * height
        for c in 0..<count {
            guard let samples = decodedComps[c].data else { throw CodecError("JPEG 2000: component \(c) has no data") }
            for p in 0..<pixels {
                let v = Int(samples[p])  // signed components are already sign-extended
                let o = image.planarConfiguration == 1 ? c * pixels + p : p * count + c
                if bytes == 1 {
                    out[o] = UInt8(truncatingIfNeeded: v)
                } else {
                    out[2 * o] = UInt8(truncatingIfNeeded: v)
                    out[2 * o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                }
            }
        }
        return out
    }
}
