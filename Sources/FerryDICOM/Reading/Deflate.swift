import CZlib

/// Raw deflate (RFC 1951) for the Deflated Explicit VR Little Endian transfer syntax (PS3.5 A.5).
public enum Deflate {
    /// Default cap on an inflated data set: a 1 MB file that inflates past it is a bomb.
    public static let defaultMaxInflatedSize = 1 << 31

    /// Inflates `input`, stopping at `maxOutput` bytes. Returns the output and whether the
    /// stream ended. Streams with a zlib header (written by some old toolkits) are accepted.
    public static func inflate(
        _ input: ArraySlice<UInt8>, maxOutput: Int
    ) throws(DICOMError) -> (bytes: [UInt8], ended: Bool) {
        do {
            return try inflate(input, maxOutput: maxOutput, windowBits: -15)
        } catch {
            if input.count >= 2, (Int(input[input.startIndex]) << 8 | Int(input[input.startIndex + 1])) % 31 == 0,
                let wrapped = try? inflate(input, maxOutput: maxOutput, windowBits: 15)
            {
                return wrapped
            }
            throw error
        }
    }

    private static func inflate(
        _ input: ArraySlice<UInt8>, maxOutput: Int, windowBits: Int32
    ) throws(DICOMError) -> (bytes: [UInt8], ended: Bool) {
        guard input.count <= Int(UInt32.max) else {
            throw DICOMError(.inflate, "deflated data set of \(input.count) bytes exceeds 4 GiB")
        }
        var stream = z_stream()
        guard ferry_inflateInit2(&stream, windowBits) == Z_OK else {
            throw DICOMError(.inflate, "inflateInit failed")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var ended = false
        var status: Int32 = Z_OK
        input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while output.count < maxOutput {
                let room = min(chunk.count, maxOutput - output.count)
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(room)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                output.append(contentsOf: chunk[0..<(room - Int(stream.avail_out))])
                if status == Z_STREAM_END { ended = true; return }
                if status != Z_OK { return }
                if stream.avail_in == 0 && stream.avail_out != 0 { return }  // input exhausted
            }
        }
        if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
            throw DICOMError(
                .inflate, "corrupt deflate stream (zlib status \(status)) after \(stream.total_in) input bytes")
        }
        return (output, ended)
    }

    /// zlib's levels: 0 stores, 9 compresses most; 6 is zlib's and DCMTK's (+cl) default.
    public static let levels: ClosedRange<Int32> = 0...9
    public static let defaultLevel: Int32 = 6

    /// A data set's deflated bitstream (PS3.5 A.5): raw deflate, padded to even length with a NUL.
    public static func deflatedDataSet(
        _ encoded: [UInt8], level: Int32 = defaultLevel
    ) throws(DICOMError) -> [UInt8] {
        var out = try deflate(encoded, level: level)
        if out.count % 2 == 1 { out.append(0) }
        return out
    }

    /// Raw-deflates `input` at `level` (0-9, or -1 for zlib's default).
    public static func deflate(_ input: [UInt8], level: Int32 = defaultLevel) throws(DICOMError) -> [UInt8] {
        var stream = z_stream()
        guard input.count <= Int(UInt32.max), ferry_deflateInit2(&stream, level, -15) == Z_OK else {
            throw DICOMError(.inflate, "cannot deflate \(input.count) bytes at level \(level)")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 16)
        let status = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                return CZlib.deflate(&stream, Z_FINISH)
            }
        }
        // One call into a deflateBound-sized buffer must finish the stream; anything else is
        // a zlib failure, not a shorter output.
        guard status == Z_STREAM_END else {
            throw DICOMError(.inflate, "deflate of \(input.count) bytes failed (zlib status \(status))")
        }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
