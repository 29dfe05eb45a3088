import FerryDICOM
import Foundation

/// Corpus helpers shared by the network and pipeline tests: the corpus files, what a receiver
/// stored, and data set comparisons between the two.
public enum Interop {
    /// The corpus's patient directories (the cache directory also holds a marker file).
    public static func corpusRoots(_ profile: String, count: Int? = nil) throws -> [String] {
        let dir = try Corpus.directory(profile, count: count)
        return try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted().map {
            dir + "/" + $0
        }
        .filter {
            var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && d.boolValue
        }
    }

    /// Every readable DICOM file of a profile, by SOP Instance UID.
    public static func sources(_ profile: String) throws -> [String: String] {
        var map: [String: String] = [:]
        for root in try corpusRoots(profile) {
            for path in DirectoryWalker().files(under: [root]) {
                if let s = try? HeaderScan.summary(path: path), let uid = s.sopInstanceUID { map[uid] = path }
            }
        }
        return map
    }

    /// Files of a profile in explicit or implicit VR little endian (any peer takes them).
    public static func uncompressedFiles(_ profile: String) throws -> [String] {
        let plain: Set<String> = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        return try sources(profile).values.sorted().filter {
            (try? HeaderScan.summary(path: $0)).map { plain.contains($0.transferSyntaxUID) } ?? false
        }
    }

    public static func received(_ dir: String) -> [String: String] {
        var map: [String: String] = [:]
        for path in DirectoryWalker().files(under: [dir]) {
            if let s = try? HeaderScan.summary(path: path), let uid = s.sopInstanceUID { map[uid] = path }
        }
        return map
    }

    /// Differences between what was sent and what arrived, file by file.
    public static func compare(sent: [String: String], received: [String: String]) -> [String] {
        var problems: [String] = []
        for (uid, source) in sent.sorted(by: { $0.key < $1.key }) {
            guard let target = received[uid] else { problems.append("missing: \(source)"); continue }
            do {
                let a = try Part10Reader.read(path: source), b = try Part10Reader.read(path: target)
                let d = DataSetComparison.differences(a.dataSet, b.dataSet)
                if !d.isEmpty { problems.append("\(source) -> \(target): \(d.prefix(3).joined(separator: "; "))") }
            } catch {
                problems.append("\(source) or \(target) unreadable: \(error)")
            }
        }
        return problems
    }

    /// A DCMTK association negotiation profile for storescp that accepts every transfer
    /// syntax Ferry knows and DCMTK 3.6.7 reads (its +xa lacks 4.57) for the SOP classes of the
    /// given files; HTJ2K, which it aborts on, is left out.
    public static func acceptAllProfile(for files: [String: String], directory: String) throws -> String {
        var classes = Set<String>()
        for path in files.values {
            if let s = try? HeaderScan.summary(path: path), let c = s.sopClassUID { classes.insert(c) }
        }
        var text = "[[TransferSyntaxes]]\n[All]\n"
        let unreadable: Set<TransferSyntax> = [.htj2kLossless, .htj2kLosslessRPCL, .htj2k]
        for (i, ts) in TransferSyntax.known.filter({ !unreadable.contains($0) }).enumerated() {
            text += "TransferSyntax\(i + 1) = \(ts.uid)\n"
        }
        text += "[[PresentationContexts]]\n[AllContexts]\n"
        for (i, c) in classes.sorted().enumerated() { text += "PresentationContext\(i + 1) = \(c)\\All\n" }
        text += "[[Profiles]]\n[AcceptAll]\nPresentationContexts = AllContexts\n"
        let path = directory + "/accept-all.cfg"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }
}
