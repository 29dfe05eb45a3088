import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Deflated Explicit VR Little Endian through zlib with a chosen level (what `ferry transcode
/// --to deflated --compression-level N` writes), read back by Ferry and by DCMTK (dcmdump, dcmconv).
@Suite(.scratch)
struct DeflateTests {
    @Test func compressionLevels() throws {
        let files = Array(try Interop.uncompressedFiles("tiny").prefix(3))
        #expect(files.count == 3)
        let dir = try Corpus.temporaryDirectory("deflate-levels")
        for (i, path) in files.enumerated() {
            var sizes: [Int32: Int] = [:]
            for level: Int32 in [0, 1, 9] {
                let out = dir + "/f\(i)-\(level).dcm", back = out + ".dcmtk"
                try Transcoder().transcodeFile(
                    path, to: .deflatedExplicitVRLittleEndian, writingTo: out, deflateLevel: level)
                #expect(
                    try HeaderScan.summary(path: out).transferSyntaxUID
                        == TransferSyntax.deflatedExplicitVRLittleEndian.uid)
                let dump = try Tools.run("/usr/bin/dcmdump", ["-q", out])
                #expect(dump.status == 0 && dump.stderr.isEmpty, "\(dump.stderr)")
                // DCMTK inflates it back to explicit LE: the same data set as the source.
                #expect(try Tools.run("/usr/bin/dcmconv", ["+te", out, back]).status == 0)
                for copy in [out, back] {
                    let d = DataSetComparison.differences(
                        try Part10Reader.read(path: path).dataSet, try Part10Reader.read(path: copy).dataSet)
                    #expect(d.isEmpty, "\(copy): \(d.prefix(3))")
                }
                sizes[level] = try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int
            }
            let stored = sizes[0] ?? 0, fast = sizes[1] ?? 0, best = sizes[9] ?? 0
            #expect(stored > fast && fast >= best && best > 0, "\(path): level 0 \(stored), 1 \(fast), 9 \(best) bytes")
        }
        let refused = try FerryCLI.run([
            "transcode", files[0], dir + "/x.dcm", "--to", "deflated", "--compression-level", "10",
        ])
        #expect(refused.status != 0 && refused.stderr.contains("compression-level"), "\(refused.stderr)")
    }
}
