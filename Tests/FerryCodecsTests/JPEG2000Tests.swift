import FerryCodecs
import FerryDICOM
import Foundation
import Testing
import TestSupport

/// JPEG 2000 decoding (OpenJPEG) against GDCM (gdcmconv --raw; DCMTK 3.6.7 has no JPEG 2000).
@Suite(.serialized)
struct JPEG2000Tests {
    @Test(arguments: [TransferSyntax.jpeg2000Lossless, .jpeg2000])
    func decodeEqualsGDCM(ts: TransferSyntax) throws {
        let files = try RLETests.files(ts)
        #expect(files.count >= 5)
        let dir = try Corpus.temporaryDirectory("j2k-decode")
        for (i, path) in files.enumerated() {
            let ferryOut = dir + "/ferry\(i).dcm", gdcmOut = dir + "/gdcm\(i).dcm"
            let ferry = try FerryCLI.run(["transcode", path, ferryOut, "--to", "explicit"])
            #expect(ferry.status == 0, "\(ferry.stderr)")
            #expect(try Tools.run("gdcmconv", ["--raw", path, gdcmOut]).status == 0)
            guard ferry.status == 0 else { continue }
            #expect(try RLETests.pixels(ferryOut) == (try RLETests.pixels(gdcmOut)), "\(path): differs from gdcmconv --raw")
        }
    }

    @Test func corruptStreams() throws {
        let path = try #require(try RLETests.files(.jpeg2000Lossless).first)
        let file = try Part10Reader.read(path: path)
        let frames = try #require(try file.dataSet.encapsulatedFrames())
        let image = ImageDescription(try #require(try PixelAttributes(file.dataSet)))
        let stream = Array(frames[0].joined())
        let codec = JPEG2000Codec()
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(stream.count / 3)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([stream.prefix(10)], image: image) }
        #expect(throws: CodecError.self) { try codec.decode([[UInt8](repeating: 0x55, count: 200)[...]], image: image) }
        #expect(throws: CodecError.self) {
            try codec.decode([stream[...]], image: ImageDescription(rows: image.rows * 2, columns: image.columns, samplesPerPixel: 1, bitsAllocated: 16))
        }
    }
}
