import FerryDICOM
import TestSupport
import Testing

@testable import FerryCodecs

/// Decoding in a decoder process (issue 14): a C library that stalls or dies costs its frame,
/// the process is replaced, the next frame decodes.
@Suite
struct DecoderProcessTests {
    static let image = ImageDescription(rows: 256, columns: 256, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12)
    static let frameLength = 256 * 256 * 2

    static func processes(limit: Double, arguments: [String] = []) -> DecoderProcesses {
        var c = DecoderProcesses.Configuration(executable: FerryCLI.path, arguments: ["codec-worker"] + arguments)
        c.baseTimeLimit = limit
        c.perMegabyte = 0
        return DecoderProcesses(c)
    }

    /// A ramp, JPEG-LS encoded in this process: a frame the decoder process must give back.
    static func validFrame() throws -> (native: [UInt8], encoded: [UInt8]) {
        var native: [UInt8] = []
        for i in 0..<(256 * 256) { native += [UInt8(i & 0xFF), UInt8((i >> 8) & 0x0F)] }
        return (native, try JPEGLSCodec(.jpegLSLossless).encode(native[...], image: image))
    }

    @Test func aLibraryStuckOnATruncatedScanIsStoppedAtTheTimeLimit() throws {
        let processes = Self.processes(limit: 1)
        #expect {
            try processes.decode(
                [HostileFiles.stallingJPEGLSFrame[...]], syntax: .jpegLSNearLossless, image: Self.image,
                frameLength: Self.frameLength)
        } throws: { error in
            guard let e = error as? CodecError else { return false }
            return e.code == .library && e.message.contains("over its time limit")
                && e.message.contains("JPEG-LS") && e.message.contains("limit 1 s")
        }
        // A new process decodes the next frame.
        let (native, encoded) = try Self.validFrame()
        let decoded = try processes.decode(
            [encoded[...]], syntax: .jpegLSLossless, image: Self.image, frameLength: Self.frameLength)
        #expect(decoded == native)
    }

    @Test func aDecoderThatDiesFailsItsFrameOnly() throws {
        let uid = TransferSyntax.jpeg2000Lossless.uid
        let processes = Self.processes(limit: 30, arguments: ["--abort-on", uid])
        let (native, encoded) = try Self.validFrame()
        #expect {
            try processes.decode([[0xFF, 0x4F][...]], syntax: .jpeg2000Lossless, image: Self.image, frameLength: 8)
        } throws: { error in
            guard let e = error as? CodecError else { return false }
            return e.code == .library && e.message.contains("ended by signal 6")
        }
        for _ in 0..<2 {
            let decoded = try processes.decode(
                [encoded[...]], syntax: .jpegLSLossless, image: Self.image, frameLength: Self.frameLength)
            #expect(decoded == native)
        }
        // A library's own error comes back with its code; the process is kept for the next frame.
        #expect {
            try processes.decode(
                [[0xFF, 0xD8, 0xFF, 0xD9][...]], syntax: .jpegLSLossless, image: Self.image,
                frameLength: Self.frameLength)
        } throws: {
            ($0 as? CodecError).map { $0.code != .library || !$0.message.contains("separate process") } ?? false
        }
    }
}
