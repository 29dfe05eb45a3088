// libFuzzer entry point for the Swift codecs (built by scripts/fuzz-codecs): RLE, JPEG
// lossless and JPEG DCT (baseline/extended). Byte 0 picks the codec, bytes 1-4 the image (rows, columns, samples, bits); the rest
// is the frame. Decoding must give a frame or a CodecError; an RLE frame that decodes must
// re-encode and decode to itself.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCodecs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 5 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let image = ImageDescription(
        rows: Int(bytes[1] % 64) + 1, columns: Int(bytes[2] % 64) + 1,
        samplesPerPixel: bytes[3] & 1 == 0 ? 1 : 3, bitsAllocated: [8, 16, 32][Int(bytes[4] % 3)],
        planarConfiguration: Int(bytes[3] >> 7))
    switch bytes[0] % 3 {
    case 0:
        let codec = RLECodec()
        if let frame = try? codec.decode([bytes[5...]], image: image) {
            guard let encoded = try? codec.encode(frame[...], image: image),
                let again = try? codec.decode([encoded[...]], image: image), again == frame
            else {
                fatalError("RLE round trip failed")
            }
        }
    case 1:
        _ = try? JPEGLosslessCodec().decode([bytes[5...]], image: image)
    default:
        if let frame = try? JPEGDCTCodec(.jpegExtended).decode([bytes[5...]], image: image),
            frame.count != image.frameLength
        {
            fatalError("JPEG DCT decoded \(frame.count) bytes for a \(image.frameLength ?? 0)-byte frame")
        }
    }
    return 0
}
