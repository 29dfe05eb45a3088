import ArgumentParser
import FerryCodecs
import FerryDICOM
import FerryNetwork
import FerryServices
import Foundation

struct Transcode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Write files in another transfer syntax (like DCMTK dcmconv/dcmcrle/dcmdrle); lossless results are verified.",
        discussion: """
            Encode and decode: RLE Lossless, JPEG-LS (lossless; near-lossless), JPEG lossless SV1, JPEG 2000 (lossless; lossy), \
            JPEG baseline and extended, 8-bit (lossy). Decode only: JPEG lossless process 14, JPEG extended 12-bit. Uncompressed syntaxes \
            (implicit/explicit, little/big endian, deflated) convert among themselves. A lossy encoding sets Lossy Image \
            Compression and gives the instance a new SOP Instance UID, as DCMTK's dcmcjpeg does. Exit 1 if any file failed.
            """)

    @Argument(help: "Input file or directory.")
    var input: String
    @Argument(help: "Output file or directory (created).")
    var output: String
    @Option(
        help:
            "Target transfer syntax: a UID, a DCMTK name, or one of: explicit-le (explicit), implicit-le (implicit), explicit-be (big), deflated, rle, jpeg-ls-lossless (jpegls), jpeg-ls-near-lossless, jpeg-lossless (4.57), jpeg-lossless-sv1 (4.70), j2k-lossless, j2k, jpeg-baseline, jpeg-extended."
    )
    var to: String
    @Option(
        name: [.customLong("compression-level"), .customLong("level")],
        help: "zlib level for --to deflated: 0 (stored) to 9 (smallest), as DCMTK's +cl (default 6).")
    var compressionLevel = Deflate.defaultLevel
    @Option(
        name: .customLong("pixel-budget"),
        help: "Most decoded pixel data one file may need: bytes, or a number and K, M, G, T (default 2GiB).")
    var pixelBudget = "2GiB"

    func run() throws {
        guard let target = Self.syntax(to) else { throw ValidationError("unknown or unsupported target syntax \(to)") }
        guard Deflate.levels.contains(compressionLevel) else {
            throw ValidationError("--compression-level must be 0...9")
        }
        guard let budget = ByteCount.parse(pixelBudget) else {
            throw ValidationError("--pixel-budget \(pixelBudget) is not a size (bytes, or a number and K, M, G or T)")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: input, isDirectory: &isDir) else {
            throw ValidationError("\(input) does not exist")
        }
        let pairs: [(String, String)]
        if isDir.boolValue {
            let files = DirectoryWalker().files(under: [input]).sorted()
            pairs = files.map { ($0, output + "/" + String($0.dropFirst(input.count)).trimmingPrefix("/")) }
        } else {
            pairs = [(input, output)]
        }
        var failed = 0
        for (src, dst) in pairs {
            do {
                try Transcoder(pixelBudget: budget).transcodeFile(
                    src, to: target, writingTo: dst, deflateLevel: compressionLevel)
            } catch {
                failed += 1
                printError("E: \(src): \(error)")
            }
        }
        if failed > 0 {
            printError("transcode: \(failed) of \(pairs.count) files failed")
            throw ExitCode(.someFailed)
        }
    }

    /// A syntax Ferry can write, by any name of TransferSyntaxNames.
    static func syntax(_ name: String) -> TransferSyntax? {
        guard let ts = TransferSyntaxNames.lookup(name), !ts.isEncapsulated || Codecs.encoder(for: ts) != nil else {
            return nil
        }
        return ts
    }
}

private extension String {
    func trimmingPrefix(_ p: String) -> String { hasPrefix(p) ? String(dropFirst(p.count)) : self }
}
