import FerryDICOM

/// The messages between Ferry and a decoder process (`DecoderProcesses`, `DecodeWorker`):
/// little-endian lengths and fields, one request and one answer at a time on a pipe pair.
///
/// Request: "FDRQ", transfer syntax UID, the image description, the frame's fragments.
/// Answer: "FDOK" and the native frame, or "FDER", an error code and a message.
enum DecodeMessage {
    static let request: [UInt8] = Array("FDRQ".utf8)
    static let ok: [UInt8] = Array("FDOK".utf8)
    static let failure: [UInt8] = Array("FDER".utf8)
    /// No field is longer: a frame's compressed bytes and its native pixels are bounded by
    /// the pixel budget well before this, and a corrupt length cannot make either side allocate.
    static let maxField = 1 << 34

    static func encodeRequest(
        transferSyntax: String, image: ImageDescription, fragments: [ArraySlice<UInt8>]
    ) -> [UInt8] {
        var out = request
        put(&out, Array(transferSyntax.utf8))
        for v in [
            image.rows, image.columns, image.samplesPerPixel, image.bitsAllocated, image.planarConfiguration,
            image.bitsStored, image.isSigned ? 1 : 0,
        ] {
            put(&out, UInt64(v))
        }
        put(&out, Array(image.photometric.utf8))
        put(&out, UInt64(fragments.count))
        for f in fragments { put(&out, Array(f)) }
        return out
    }

    static func put(_ out: inout [UInt8], _ v: UInt64) {
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    static func put(_ out: inout [UInt8], _ bytes: [UInt8]) {
        put(&out, UInt64(bytes.count))
        out += bytes
    }

    /// Reads fields from a byte source (a pipe), each length checked before allocating.
    struct Reader {
        let read: (Int) throws(CodecError) -> [UInt8]

        func magic() throws(CodecError) -> [UInt8] { try read(4) }

        func integer() throws(CodecError) -> UInt64 {
            let b = try read(8)
            var v: UInt64 = 0
            for i in (0..<8).reversed() { v = v << 8 | UInt64(b[i]) }
            return v
        }

        func int(max: Int) throws(CodecError) -> Int {
            let v = try integer()
            guard v <= UInt64(max) else { throw CodecError("decoder process: a field of \(v) over \(max)") }
            return Int(v)
        }

        func bytes() throws(CodecError) -> [UInt8] { try read(try int(max: DecodeMessage.maxField)) }

        func string() throws(CodecError) -> String { String(decoding: try read(try int(max: 4096)), as: UTF8.self) }
    }
}
