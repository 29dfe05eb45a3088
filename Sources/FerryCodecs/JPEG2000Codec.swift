import COpenJPEG
import FerryDICOM

/// JPEG 2000 (4.90 lossless, 4.91) decoding through OpenJPEG, from memory. The codestream's
/// size, component count and precision are checked against the data set before decoding.
/// Encoding is not implemented yet.
public struct JPEG2000Codec: PixelCodec {
    public let transferSyntax: TransferSyntax
    public var canEncode: Bool { false }
    public init(_ ts: TransferSyntax = .jpeg2000Lossless) { transferSyntax = ts }

    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        throw CodecError("JPEG 2000: encoding is not implemented yet")
    }

    /// The bytes OpenJPEG reads, and how far it has read (the stream's user data).
    final class Source {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        let data: [UInt8] = fragments.count == 1 ? Array(fragments[0]) : fragments.flatMap { $0 }
        guard let frameLength = image.frameLength else { throw CodecError("JPEG 2000: image size overflows") }
        guard data.count >= 4 else { throw CodecError("JPEG 2000: stream of \(data.count) bytes") }
        // A JP2 file (box structure) or a bare codestream (FF 4F FF 51).
        let format = data[0] == 0xFF && data[1] == 0x4F ? OPJ_CODEC_J2K : OPJ_CODEC_JP2
        guard let codec = opj_create_decompress(format) else { throw CodecError("JPEG 2000: cannot create a decoder") }
        defer { opj_destroy_codec(codec) }
        // Quiet: errors come back as a failed call.
        opj_set_error_handler(codec, { _, _ in }, nil)
        opj_set_warning_handler(codec, { _, _ in }, nil)
        opj_set_info_handler(codec, { _, _ in }, nil)
        var parameters = opj_dparameters_t()
        opj_set_default_decoder_parameters(&parameters)
        guard opj_setup_decoder(codec, &parameters) != 0 else { throw CodecError("JPEG 2000: cannot set up the decoder") }

        let source = Source(data)
        guard let stream = opj_stream_create(1 << 16, 1) else { throw CodecError("JPEG 2000: cannot create a stream") }
        defer { opj_stream_destroy(stream) }
        let context = Unmanaged.passRetained(source).toOpaque()
        opj_stream_set_user_data(stream, context) { p in
            if let p { Unmanaged<Source>.fromOpaque(p).release() }
        }
        opj_stream_set_user_data_length(stream, UInt64(data.count))
        opj_stream_set_read_function(stream) { buffer, count, user in
            guard let buffer, let user else { return Int.max }  // (OPJ_SIZE_T)-1: end of stream
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            let n = min(count, s.bytes.count - s.position)
            guard n > 0 else { return Int.max }
            s.bytes.withUnsafeBytes { src in
                if let base = src.baseAddress { buffer.copyMemory(from: base + s.position, byteCount: n) }
            }
            s.position += n
            return n
        }
        opj_stream_set_skip_function(stream) { count, user in
            guard let user else { return -1 }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            let target = max(0, min(s.bytes.count, s.position + Int(count)))
            let skipped = target - s.position
            s.position = target
            return Int64(skipped)
        }
        opj_stream_set_seek_function(stream) { offset, user in
            guard let user else { return 0 }
            let s = Unmanaged<Source>.fromOpaque(user).takeUnretainedValue()
            guard offset >= 0, Int(offset) <= s.bytes.count else { return 0 }
            s.position = Int(offset)
            return 1
        }

        var decoded: UnsafeMutablePointer<opj_image_t>?
        guard opj_read_header(stream, codec, &decoded) != 0, let header = decoded else { throw CodecError("JPEG 2000: malformed codestream header") }
        defer { opj_image_destroy(header) }
        let count = Int(header.pointee.numcomps)
        let width = Int(header.pointee.x1 - header.pointee.x0), height = Int(header.pointee.y1 - header.pointee.y0)
        guard width == image.columns, height == image.rows, count == image.samplesPerPixel else {
            throw CodecError("JPEG 2000: the codestream is \(width)x\(height)x\(count), the data set says \(image.columns)x\(image.rows)x\(image.samplesPerPixel)")
        }
        guard let comps = header.pointee.comps else { throw CodecError("JPEG 2000: no components") }
        for c in 0..<count {
            let comp = comps[c]
            guard comp.dx == 1, comp.dy == 1 else { throw CodecError("JPEG 2000: subsampled components are not supported") }
            guard Int(comp.prec) <= image.bitsAllocated else { throw CodecError("JPEG 2000: \(comp.prec)-bit samples do not fit Bits Allocated \(image.bitsAllocated)") }
        }
        guard opj_decode(codec, stream, header) != 0, opj_end_decompress(codec, stream) != 0 else {
            throw CodecError("JPEG 2000: decoding failed (corrupt codestream?)")
        }
        let bytes = image.bitsAllocated / 8
        guard bytes == 1 || bytes == 2 else { throw CodecError("JPEG 2000: Bits Allocated \(image.bitsAllocated)") }
        var out = [UInt8](repeating: 0, count: frameLength)
        let pixels = width * height
        for c in 0..<count {
            guard let samples = comps[c].data else { throw CodecError("JPEG 2000: component \(c) has no data") }
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
