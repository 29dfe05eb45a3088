import FerryCodecs
import FerryDICOM
import Foundation
import TestSupport
import Testing

/// The corpus files the codec tests decode and encode, Ferry's in-process decoding of them, and
/// the reference decodes make-corpus keeps beside the corpus (DCMTK, GDCM, OpenJPH).
enum CodecCorpus {
    /// Every file of tiny, small, stress and htj2k in `ts`, sorted.
    static func files(_ ts: TransferSyntax) throws -> [String] {
        var out: [String] = []
        for profile in ["tiny", "small", "stress", "htj2k"] {
            for path in DirectoryWalker().files(under: [try Corpus.directory(profile)])
            where !path.hasSuffix(".complete") {
                if (try? HeaderScan.summary(path: path))?.transferSyntaxUID == ts.uid { out.append(path) }
            }
        }
        return out.sorted()
    }

    /// The native Pixel Data bytes of an uncompressed file.
    static func pixels(_ path: String) throws -> [UInt8] {
        let f = try Part10Reader.read(path: path)
        return Array(try #require(f.dataSet[.pixelData]?.bytes))
    }

    /// Ferry's decoding of `path` to explicit VR little endian, in process.
    static func decoded(_ path: String) throws -> DataSet {
        let file = try Part10Reader.read(path: path)
        return try Transcoder().transcode(file.dataSet, from: file.transferSyntax, to: .explicitVRLittleEndian)
    }

    static func decodedPixels(_ path: String) throws -> [UInt8] {
        Array(try #require(try decoded(path)[.pixelData]?.bytes))
    }

    /// The native pixels `decoder` made of the corpus file `path` when the corpus was made.
    static func reference(_ path: String, _ decoder: Corpus.ReferenceDecoder) throws -> [UInt8] {
        let reference = try #require(
            Corpus.reference(of: path, by: decoder), "no \(decoder) reference decode of \(path)")
        return try pixels(reference)
    }
}
