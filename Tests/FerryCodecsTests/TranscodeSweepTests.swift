import FerryDICOM
import Foundation
import TestSupport
import Testing

/// Every file of tiny, stress (which holds all of small) and htj2k through the `ferry` binary of
/// this build to each syntax it can write, and back to explicit VR LE: a file may fail with an
/// error (exit 1, the file named), the process may never crash, and every file is either
/// written or reported. The suite runs on the optimised build, where a C
/// library once read a Swift buffer past its lifetime and crashed when the debug build did not.
@Suite(.scratch)
struct TranscodeSweepTests {
    @Test(arguments: [
        "explicit", "implicit", "big", "deflated", "rle", "jpegls", "jpeg-lossless", "j2k-lossless", "j2k",
        "jpeg-baseline", "jpeg-extended",
    ])
    func everyCorpusFileToAndBack(syntax: String) throws {
        for profile in ["tiny", "stress", "htj2k"] {
            let out = try Corpus.temporaryDirectory("sweep-\(profile)-\(syntax)")
            // Every file `ferry transcode` sees, the corpus's completion marker included.
            let inputs = DirectoryWalker().files(under: [try Corpus.directory(profile)]).count
            let there = try FerryCLI.run(["transcode", try Corpus.directory(profile), out + "/to", "--to", syntax])
            #expect(
                there.status <= 1,
                "ferry transcode \(profile) --to \(syntax) exited \(there.status): \(there.stderr.suffix(500))")
            let written = DirectoryWalker().files(under: [out + "/to"]).count
            #expect(
                written + Self.failures(there.stderr) == inputs,
                "\(profile) --to \(syntax): \(inputs) files, \(written) written: \(there.stderr.suffix(500))")
            let back = try FerryCLI.run(["transcode", out + "/to", out + "/back", "--to", "explicit"])
            #expect(
                back.status <= 1,
                "ferry transcode \(profile) (\(syntax)) --to explicit exited \(back.status): \(back.stderr.suffix(500))"
            )
            try FileManager.default.removeItem(atPath: out)
        }
    }

    /// The files `ferry transcode` reported as failed: one "E: PATH: reason" line each.
    static func failures(_ stderr: String) -> Int {
        stderr.split(separator: "\n").filter { $0.hasPrefix("E: ") }.count
    }
}
