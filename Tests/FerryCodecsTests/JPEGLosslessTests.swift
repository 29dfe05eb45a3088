import FerryCodecs
import FerryDICOM
import Foundation
import Testing
import TestSupport

/// JPEG Lossless Process 14 (4.57) and SV1 (4.70), decoded in Swift, against DCMTK
/// (dcmdjpeg) and GDCM (gdcmconv --raw).
@Suite(.serialized)
struct JPEGLosslessTests {
    @Test(arguments: [TransferSyntax.jpegLosslessProcess14, .jpegLosslessSV1])
    func decodeEqualsDCMTKAndGDCM(ts: TransferSyntax) throws {
        let files = try RLETests.files(ts)
        #expect(files.count >= 5)
        let dir = try Corpus.temporaryDirectory("jpegll-decode")
        for (i, path) in files.enumerated() {
            let ferryOut = dir + "/ferry\(i).dcm", dcmtkOut = dir + "/dcmtk\(i).dcm", gdcmOut = dir + "/gdcm\(i).dcm"
            let ferry = try FerryCLI.run(["transcode", path, ferryOut, "--to", "explicit"])
            #expect(ferry.status == 0, "\(ferry.stderr)")
            #expect(try Tools.run("/usr/bin/dcmdjpeg", [path, dcmtkOut]).status == 0)
            #expect(try Tools.run("gdcmconv", ["--raw", path, gdcmOut]).status == 0)
            guard ferry.status == 0 else { continue }
            let mine = try RLETests.pixels(ferryOut)
            #expect(mine == (try RLETests.pixels(dcmtkOut)), "\(path): differs from dcmdjpeg")
            #expect(mine == (try RLETests.pixels(gdcmOut)), "\(path): differs from gdcmconv --raw")
        }
    }

    @Test func corruptStreams() throws {
        let files = try RLETests.files(.jpegLosslessSV1)
        let path = try #require(files.first)
        let file = try Part10Reader.read(path: path)
        let frames = try #require(try file.dataSet.encapsulatedFrames())
        let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
        let stream = Array(frames[0].joined())
        let codec = JPEGLosslessCodec()
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(stream.count / 2)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(40)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([[0xFF, 0xD8, 0xFF, 0xD9][...]], image: image) }
        #expect(throws: CodecError.self) {
            try codec.decode([stream[...]], image: ImageDescription(rows: image.rows + 1, columns: image.columns, samplesPerPixel: 1, bitsAllocated: 16))
        }
    }
}
