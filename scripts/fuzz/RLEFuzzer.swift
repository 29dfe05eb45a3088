// libFuzzer entry point for the RLE codec (built by scripts/fuzz-codecs). The first 4 bytes
// choose the image (rows, columns, samples, bits); the rest is the RLE frame. Decoding must
// give a frame or a CodecError; a successful decode must re-encode and decode to itself.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRLE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 4 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let image = ImageDescription(rows: Int(bytes[0] % 64) + 1, columns: Int(bytes[1] % 64) + 1,
                                 samplesPerPixel: bytes[2] & 1 == 0 ? 1 : 3, bitsAllocated: [8, 16, 32][Int(bytes[3] % 3)],
                                 planarConfiguration: Int(bytes[2] >> 7))
    let codec = RLECodec()
    if let frame = try? codec.decode([bytes[4...]], image: image) {
        guard let encoded = try? codec.encode(frame[...], image: image),
              let again = try? codec.decode([encoded[...]], image: image), again == frame else {
            fatalError("RLE round trip failed")
        }
    }
    return 0
}
