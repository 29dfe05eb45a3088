import FerryDICOM
import Foundation
import TestSupport

/// The network tests' comparison helpers, for the pipeline's tests.
enum Interop {
    static func receivedFiles(_ dir: String) -> [String: String] {
        var map: [String: String] = [:]
        for path in DirectoryWalker().files(under: [dir]) {
            if let s = try? HeaderScan.summary(path: path), let uid = s.sopInstanceUID { map[uid] = path }
        }
        return map
    }

    static func compareFiles(sent: [String: String], received: [String: String]) -> [String] {
        var problems: [String] = []
        for (uid, source) in sent.sorted(by: { $0.key < $1.key }) {
            guard let target = received[uid] else { problems.append("missing: \(source)"); continue }
            do {
                let a = try Part10Reader.read(path: source), b = try Part10Reader.read(path: target)
                let d = DataSetComparison.differences(a.dataSet, b.dataSet)
                if !d.isEmpty { problems.append("\(source): \(d.prefix(3))") }
            } catch { problems.append("\(source): \(error)") }
        }
        return problems
    }

    static func uncompressedFilesOf(_ profile: String) throws -> [String] {
        let plain: Set<String> = [TransferSyntax.explicitVRLittleEndian.uid, TransferSyntax.implicitVRLittleEndian.uid]
        return DirectoryWalker().files(under: [try Corpus.directory(profile)]).sorted()
            .filter { (try? HeaderScan.summary(path: $0)).map { plain.contains($0.transferSyntaxUID) } ?? false }
    }

    static func acceptAllProfile(for files: [String: String], directory: String) throws -> String {
        var classes = Set<String>()
        for path in files.values { if let s = try? HeaderScan.summary(path: path), let c = s.sopClassUID { classes.insert(c) } }
        var text = "[[TransferSyntaxes]]\n[All]\n"
        for (i, ts) in TransferSyntax.known.enumerated() { text += "TransferSyntax\(i + 1) = \(ts.uid)\n" }
        text += "[[PresentationContexts]]\n[AllContexts]\n"
        for (i, c) in classes.sorted().enumerated() { text += "PresentationContext\(i + 1) = \(c)\\All\n" }
        text += "[[Profiles]]\n[AcceptAll]\nPresentationContexts = AllContexts\n"
        let path = directory + "/accept-all.cfg"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
