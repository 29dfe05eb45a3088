import CCharLS
import FerryDICOM

/// JPEG-LS lossless (4.80) and near-lossless (4.81) through CharLS. The stream's frame
/// (width, height, components, precision) is checked against the data set before decoding;
/// the output buffer is sized from the data set's attributes.
public struct JPEGLSCodec: PixelCodec {
    public let transferSyntax: TransferSyntax
    /// NEAR for encoding 4.81 (0 for 4.80).
    public var nearLossless: Int32

    public init(_ ts: TransferSyntax = .jpegLSLossless, nearLossless: Int32 = 2) {
        transferSyntax = ts
        self.nearLossless = ts == .jpegLSLossless ? 0 : nearLossless
    }

    public var lossyMethod: String? { transferSyntax.isLossless ? nil : "ISO_14495_1" }
    public var decodesInCLibrary: Bool { true }

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        // CharLS 2.4.1 may read a byte past the end of a scan: the copy has zeros after it.
        var stream = fragments.flatMap { $0 }
        let streamLength = stream.count
        stream += [UInt8](repeating: 0, count: 8)
        guard let frameLength = image.frameLength else {
            throw CodecError("JPEG-LS: image size overflows", code: .mismatch)
        }
        guard let decoder = charls_jpegls_decoder_create() else {
            throw CodecError("JPEG-LS: cannot create a decoder", code: .library)
        }
        defer { charls_jpegls_decoder_destroy(decoder) }
        var info = charls_frame_info()
        var interleave = CHARLS_INTERLEAVE_MODE_NONE
        var out: [UInt8] = []
        // CharLS reads the source buffer until decoding ends: one scope keeps it alive (an
        // optimised build may free `stream` right after its last visible use).
        var checked: CodecError?
        let rc: Int32 = stream.withUnsafeBytes { src in
            guard let base = src.baseAddress else { return -1 }
            var e = charls_jpegls_decoder_set_source_buffer(decoder, base, streamLength).code
            if e == 0 { e = charls_jpegls_decoder_read_header(decoder).code }
            if e == 0 { e = charls_jpegls_decoder_get_frame_info(decoder, &info).code }
            if e == 0 { e = charls_jpegls_decoder_get_interleave_mode(decoder, &interleave).code }
            guard e == 0 else { return e }
            if Int(info.width) != image.columns || Int(info.height) != image.rows
                || Int(info.component_count) != image.samplesPerPixel
            {
                checked = CodecError(
                    "JPEG-LS: the stream is \(info.width)x\(info.height)x\(info.component_count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)"
                )
                return 0
            }
            // CharLS 2.4.1 computes sizes in 32 bits from a header that may claim 2^32-1 columns
            // (GHSA-mqrg-gfc8-73ff): the frame must be the data set's (at most 65535 square).
            if !(2...16).contains(info.bits_per_sample) || info.width > 65535 || info.height > 65535 {
                checked = CodecError(
                    "JPEG-LS: \(info.width)x\(info.height) of \(info.bits_per_sample)-bit samples", code: .unsupported)
                return 0
            }
            if Int(info.bits_per_sample) > image.bitsAllocated
                || (image.bitsAllocated == 8) != (info.bits_per_sample <= 8)
            {
                checked = CodecError(
                    "JPEG-LS: \(info.bits_per_sample)-bit samples do not fit Bits Allocated \(image.bitsAllocated)",
                    code: .mismatch)
                return 0
            }
            var size = 0
            e = charls_jpegls_decoder_get_destination_size(decoder, 0, &size).code
            guard e == 0 else { return e }
            guard size == frameLength else {
                checked = CodecError(
                    "JPEG-LS: the stream decodes to \(size) bytes, a frame of the data set has \(frameLength)",
                    code: .mismatch)
                return 0
            }
            out = [UInt8](repeating: 0, count: frameLength)
            return out.withUnsafeMutableBytes { dst in
                guard let target = dst.baseAddress else { return -1 }
                let d = charls_jpegls_decoder_decode_to_buffer(decoder, target, dst.count, 0).code
                return d == 0 ? 0 : -1000 - d
            }
        }
        if let checked { throw checked }
        guard rc > -1000 else {
            throw CodecError("JPEG-LS: decoding failed (\(Self.message(-1000 - rc)))", code: .library)
        }
        guard rc == 0 else { throw CodecError("JPEG-LS: malformed stream (\(Self.message(rc)))") }
        // CharLS writes component planes for interleave mode "none"; DICOM wants the data
        // set's planar configuration.
        if image.samplesPerPixel > 1, interleave == CHARLS_INTERLEAVE_MODE_NONE, image.planarConfiguration == 0 {
            out = Self.interleave(out, image: image)
        } else if image.samplesPerPixel > 1, interleave != CHARLS_INTERLEAVE_MODE_NONE, image.planarConfiguration == 1 {
            out = Self.planar(out, image: image)
        }
        return out
    }

    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        guard let frameLength = image.frameLength, frame.count >= frameLength else {
            throw CodecError("JPEG-LS: frame shorter than the image", code: .mismatch)
        }
        guard image.bitsAllocated == 8 || image.bitsAllocated == 16 else {
            throw CodecError("JPEG-LS: Bits Allocated \(image.bitsAllocated)", code: .unsupported)
        }
        guard image.rows <= 65535, image.columns <= 65535 else {
            throw CodecError("JPEG-LS: image larger than 65535", code: .unsupported)
        }
        guard let encoder = charls_jpegls_encoder_create() else {
            throw CodecError("JPEG-LS: cannot create an encoder", code: .library)
        }
        defer { charls_jpegls_encoder_destroy(encoder) }
        // Precision: Bits Allocated, so every stored bit pattern (signed values included) survives.
        var info = charls_frame_info(
            width: UInt32(image.columns), height: UInt32(image.rows),
            bits_per_sample: Int32(image.bitsAllocated), component_count: Int32(image.samplesPerPixel))
        var source = Array(frame.prefix(frameLength))
        let interleave =
            image.samplesPerPixel > 1 && image.planarConfiguration == 0
            ? CHARLS_INTERLEAVE_MODE_SAMPLE : CHARLS_INTERLEAVE_MODE_NONE
        var size = 0
        var e = charls_jpegls_encoder_set_frame_info(encoder, &info).code
        if e == 0 { e = charls_jpegls_encoder_set_near_lossless(encoder, nearLossless).code }
        if e == 0 { e = charls_jpegls_encoder_set_interleave_mode(encoder, interleave).code }
        if e == 0 { e = charls_jpegls_encoder_get_estimated_destination_size(encoder, &size).code }
        guard e == 0 else {
            throw CodecError("JPEG-LS: cannot set up the encoder (\(Self.message(e)))", code: .library)
        }
        var out = [UInt8](repeating: 0, count: size)
        var written = 0
        let rc: Int32 = out.withUnsafeMutableBytes { dst in
            source.withUnsafeMutableBytes { src in
                guard let d = dst.baseAddress, let s = src.baseAddress else { return -1 }
                var e = charls_jpegls_encoder_set_destination_buffer(encoder, d, dst.count).code
                if e == 0 { e = charls_jpegls_encoder_encode_from_buffer(encoder, s, src.count, 0).code }
                if e == 0 { e = charls_jpegls_encoder_get_bytes_written(encoder, &written).code }
                return e
            }
        }
        guard rc == 0 else { throw CodecError("JPEG-LS: encoding failed (\(Self.message(rc)))", code: .library) }
        out.removeLast(out.count - written)
        if out.count % 2 == 1 { out.append(0) }  // fragments are even (PS3.5 A.4)
        return out
    }

    static func message(_ code: Int32) -> String {
        guard let m = charls_get_error_message(charls_jpegls_errc(rawValue: UInt32(bitPattern: code))) else {
            return "error \(code)"
        }
        return String(cString: m)
    }

    static func interleave(_ planes: [UInt8], image: ImageDescription) -> [UInt8] {
        let bps = image.bitsAllocated / 8, pixels = image.rows * image.columns, spp = image.samplesPerPixel
        var out = [UInt8](repeating: 0, count: planes.count)
        for s in 0..<spp {
            for p in 0..<pixels {
                for b in 0..<bps { out[(p * spp + s) * bps + b] = planes[(s * pixels + p) * bps + b] }
            }
        }
        return out
    }

    static func planar(_ pixelsIn: [UInt8], image: ImageDescription) -> [UInt8] {
        let bps = image.bitsAllocated / 8, pixels = image.rows * image.columns, spp = image.samplesPerPixel
        var out = [UInt8](repeating: 0, count: pixelsIn.count)
        for s in 0..<spp {
            for p in 0..<pixels {
                for b in 0..<bps { out[(s * pixels + p) * bps + b] = pixelsIn[(p * spp + s) * bps + b] }
            }
        }
        return out
    }
}

extension charls_jpegls_errc {
    var code: Int32 { Int32(bitPattern: rawValue) }
}
