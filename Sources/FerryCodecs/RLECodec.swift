import FerryDICOM

/// RLE Lossless (PS3.5 Annex G): each frame is a 64-byte header (segment count, 15 offsets)
/// and up to 15 PackBits-compressed segments, one per byte plane of each sample, most
/// significant byte first. Rows are encoded separately, segments padded to even length.
public struct RLECodec: PixelCodec {
    public let transferSyntax = TransferSyntax.rleLossless
    public init() {}

    public func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        let data: [UInt8] = fragments.count == 1 ? Array(fragments[0]) : fragments.flatMap { $0 }
        let bytesPerSample = try Self.bytesPerSample(image)
        let planes = bytesPerSample * image.samplesPerPixel
        guard let frameLength = image.frameLength else {
            throw CodecError("RLE: image size overflows", code: .mismatch)
        }
        let pixels = image.rows * image.columns
        guard data.count >= 64 else {
            throw CodecError("RLE: frame of \(data.count) bytes is shorter than its 64-byte header")
        }
        let segments = Int(le32(data, 0))
        guard segments == planes else {
            throw CodecError(
                "RLE: \(segments) segments, but \(image.samplesPerPixel) samples of \(image.bitsAllocated) bits need \(planes)"
            )
        }
        var offsets = (0..<segments).map { Int(le32(data, 4 + 4 * $0)) }
        offsets.append(data.count)
        for i in 0..<segments {
            guard offsets[i] >= 64, offsets[i] <= offsets[i + 1], offsets[i + 1] <= data.count else {
                throw CodecError(
                    "RLE: segment \(i + 1) offset \(offsets[i]) is outside the frame (\(data.count) bytes)")
            }
        }
        // PackBits gives at most 128 bytes for 2 (a replicate run): a segment shorter than a
        // 64th of its plane cannot fill it, so nothing is allocated for a stream that small.
        for i in 0..<segments where (offsets[i + 1] - offsets[i]) * 64 < pixels {
            throw CodecError(
                "RLE: segment \(i + 1) has \(offsets[i + 1] - offsets[i]) bytes, too few for a plane of \(pixels) bytes (at most 64 per byte)",
                code: .mismatch)
        }
        var out = [UInt8](repeating: 0, count: frameLength)
        var plane = [UInt8](repeating: 0, count: pixels)
        for s in 0..<image.samplesPerPixel {
            for b in 0..<bytesPerSample {
                let segment = s * bytesPerSample + b
                try Self.unpack(data[offsets[segment]..<offsets[segment + 1]], into: &plane, segment: segment + 1)
                // Byte b counts from the most significant; native data is little endian.
                let byteInSample = bytesPerSample - 1 - b
                if image.planarConfiguration == 1 {
                    let base = s * pixels * bytesPerSample
                    for p in 0..<pixels { out[base + p * bytesPerSample + byteInSample] = plane[p] }
                } else {
                    let stride = image.samplesPerPixel * bytesPerSample
                    for p in 0..<pixels { out[p * stride + s * bytesPerSample + byteInSample] = plane[p] }
                }
            }
        }
        return out
    }

    public func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        let bytesPerSample = try Self.bytesPerSample(image)
        let planes = bytesPerSample * image.samplesPerPixel
        guard planes <= 15 else { throw CodecError("RLE: \(planes) byte planes, at most 15", code: .unsupported) }
        guard let frameLength = image.frameLength, frame.count >= frameLength else {
            throw CodecError("RLE: frame of \(frame.count) bytes, expected \(image.frameLength ?? -1)")
        }
        let pixels = image.rows * image.columns
        var segments: [[UInt8]] = []
        var plane = [UInt8](repeating: 0, count: pixels)
        let start = frame.startIndex
        for s in 0..<image.samplesPerPixel {
            for b in 0..<bytesPerSample {
                let byteInSample = bytesPerSample - 1 - b
                for p in 0..<pixels {
                    let index =
                        image.planarConfiguration == 1
                        ? s * pixels * bytesPerSample + p * bytesPerSample + byteInSample
                        : (p * image.samplesPerPixel + s) * bytesPerSample + byteInSample
                    plane[p] = frame[start + index]
                }
                var segment: [UInt8] = []
                for row in 0..<image.rows {
                    Self.pack(plane[(row * image.columns)..<((row + 1) * image.columns)], into: &segment)
                }
                if segment.count % 2 == 1 { segment.append(0x80) }  // -128: a no-op byte as pad
                segments.append(segment)
            }
        }
        var out = [UInt8](repeating: 0, count: 64)
        put32(&out, 0, UInt32(segments.count))
        var offset = 64
        for (i, seg) in segments.enumerated() {
            put32(&out, 4 + 4 * i, UInt32(offset))
            offset += seg.count
        }
        for seg in segments { out += seg }
        return out
    }

    static func bytesPerSample(_ image: ImageDescription) throws(CodecError) -> Int {
        guard [8, 16, 32].contains(image.bitsAllocated) else {
            throw CodecError("RLE: Bits Allocated \(image.bitsAllocated) is not 8, 16 or 32", code: .unsupported)
        }
        guard image.samplesPerPixel == 1 || image.samplesPerPixel == 3 else {
            throw CodecError("RLE: \(image.samplesPerPixel) samples per pixel", code: .unsupported)
        }
        guard image.rows > 0, image.columns > 0 else { throw CodecError("RLE: empty image") }
        return image.bitsAllocated / 8
    }

    /// PackBits decoding of one segment into exactly `plane.count` bytes.
    static func unpack(_ src: ArraySlice<UInt8>, into plane: inout [UInt8], segment: Int) throws(CodecError) {
        var i = src.startIndex
        var o = 0
        let n = plane.count
        while o < n {
            guard i < src.endIndex else { throw CodecError("RLE: segment \(segment) ends after \(o) of \(n) bytes") }
            let h = Int(Int8(bitPattern: src[i]))
            i += 1
            if h >= 0 {
                let count = h + 1
                guard i + count <= src.endIndex, o + count <= n else {
                    throw CodecError("RLE: literal run overflows segment \(segment)")
                }
                for k in 0..<count { plane[o + k] = src[i + k] }
                i += count
                o += count
            } else if h != -128 {
                let count = 1 - h
                guard i < src.endIndex, o + count <= n else {
                    throw CodecError("RLE: replicate run overflows segment \(segment)")
                }
                let v = src[i]
                i += 1
                for k in 0..<count { plane[o + k] = v }
                o += count
            }
        }
    }

    /// PackBits encoding of one row: runs of 3+ equal bytes replicated, the rest literal.
    static func pack(_ row: ArraySlice<UInt8>, into out: inout [UInt8]) {
        var i = row.startIndex
        let end = row.endIndex
        while i < end {
            var run = 1
            while i + run < end, run < 128, row[i + run] == row[i] { run += 1 }
            if run >= 3 {
                out.append(UInt8(bitPattern: Int8(1 - run)))
                out.append(row[i])
                i += run
                continue
            }
            // Literal: until a run of 3 starts or 128 bytes.
            var j = i
            while j < end, j - i < 128 {
                if j + 2 < end, row[j] == row[j + 1], row[j] == row[j + 2] { break }
                j += 1
            }
            if j == i { j = min(i + 1, end) }
            out.append(UInt8(j - i - 1))
            out += row[i..<j]
            i = j
        }
    }
}

func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

func put32(_ b: inout [UInt8], _ i: Int, _ v: UInt32) {
    b[i] = UInt8(truncatingIfNeeded: v)
    b[i + 1] = UInt8(truncatingIfNeeded: v >> 8)
    b[i + 2] = UInt8(truncatingIfNeeded: v >> 16)
    b[i + 3] = UInt8(truncatingIfNeeded: v >> 24)
}
