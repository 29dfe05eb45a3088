import FerryDICOM
import Foundation

/// Native pixels of a file as DCMTK or GDCM decode it: the independent reference that Ferry's
/// codecs and transcoding pipeline are compared with.
public enum ReferencePixels {
    /// The tool that decodes a syntax: DCMTK's dcmdjpeg/dcmdjpls/dcmdrle, else gdcmconv --raw
    /// (DCMTK 3.6.7 has no JPEG 2000); nil for uncompressed syntaxes.
    public static func decoder(for ts: String) -> (tool: String, arguments: [String])? {
        switch ts {
        case TransferSyntax.jpegBaseline.uid, TransferSyntax.jpegExtended.uid, TransferSyntax.jpegLosslessProcess14.uid,
            TransferSyntax.jpegLosslessSV1.uid:
            return ("/usr/bin/dcmdjpeg", [])
        case TransferSyntax.jpegLSLossless.uid, TransferSyntax.jpegLSNearLossless.uid: return ("/usr/bin/dcmdjpls", [])
        case TransferSyntax.rleLossless.uid: return ("/usr/bin/dcmdrle", [])
        case let uid where TransferSyntax.lookup(uid)?.isEncapsulated == true: return ("gdcmconv", ["--raw"])
        default: return nil
        }
    }

    /// The file's native pixel bytes (little endian), decoded by the reference tool if needed;
    /// for a corpus file, the decode make-corpus kept beside the corpus.
    public static func pixels(_ path: String, scratch: String) throws -> [UInt8] {
        var source = path
        let ts = try HeaderScan.summary(path: path).transferSyntaxUID
        if let (tool, arguments) = decoder(for: ts) {
            if let kept = Corpus.reference(of: path, by: tool == "gdcmconv" ? .gdcm : .dcmtk) {
                source = kept
            } else {
                source = scratch + "/ref-\(UUID().uuidString).dcm"
                let out = try Tools.run(tool, arguments + [path, source])
                guard out.status == 0 else { throw ReferenceError(message: "\(tool) \(path): \(out.stderr)") }
            }
        }
        let f = try Part10Reader.read(path: source)
        guard let bytes = f.dataSet[.pixelData]?.bytes else {
            throw ReferenceError(message: "\(source): no native pixel data")
        }
        return Array(bytes)
    }

    /// Largest absolute sample difference (16-bit samples when `wide`).
    public static func maxDifference(_ a: [UInt8], _ b: [UInt8], wide: Bool) -> Int {
        guard a.count == b.count else { return Int.max }
        var m = 0
        if wide {
            for i in stride(from: 0, to: a.count - 1, by: 2) {
                m = max(m, abs((Int(a[i]) | Int(a[i + 1]) << 8) - (Int(b[i]) | Int(b[i + 1]) << 8)))
            }
        } else {
            for i in a.indices { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
        }
        return m
    }

    public struct ReferenceError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}
