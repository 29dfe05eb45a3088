import FerryDICOM

/// A codec whose decoding runs in a decoder process (`DecoderProcesses`); encoding, of
/// Ferry's own decoded pixels, stays in this process.
struct IsolatedCodec: PixelCodec {
    let inner: any PixelCodec
    let processes: DecoderProcesses

    var transferSyntax: TransferSyntax { inner.transferSyntax }
    var canEncode: Bool { inner.canEncode }
    var lossyMethod: String? { inner.lossyMethod }
    var decodesInCLibrary: Bool { true }

    func decode(_ fragments: [ArraySlice<UInt8>], image: ImageDescription) throws(CodecError) -> [UInt8] {
        guard let frameLength = image.frameLength else { throw CodecError("image size overflows", code: .mismatch) }
        return try processes.decode(fragments, syntax: transferSyntax, image: image, frameLength: frameLength)
    }

    func encode(_ frame: ArraySlice<UInt8>, image: ImageDescription) throws(CodecError) -> [UInt8] {
        try inner.encode(frame, image: image)
    }

    func photometricAfterDecoding(_ image: ImageDescription) -> String { inner.photometricAfterDecoding(image) }
    func photometricAfterEncoding(_ image: ImageDescription) -> String { inner.photometricAfterEncoding(image) }
}
