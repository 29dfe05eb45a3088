import FerryCodecs
import FerryDICOM
import TestSupport

/// What a retrieve delivered, against the files the archive was loaded with. An instance that
/// arrives in its own transfer syntax (or another uncompressed one) must be identical; one the sender decompressed on the
/// way (a destination that did not take the file's syntax) must carry exactly the source's
/// decoded pixels (decoding adds no loss), with every other attribute unchanged.
enum Retrieved {
    static func problems(sources: [String: String], received: [String: String]) -> [String] {
        var problems: [String] = []
        for (uid, source) in sources.sorted(by: { $0.key < $1.key }) {
            guard let target = received[uid] else { problems.append("missing: \(source)"); continue }
            do {
                let a = try Part10Reader.read(path: source), b = try Part10Reader.read(path: target)
                var expected = a.dataSet
                if a.transferSyntax != b.transferSyntax,
                    a.transferSyntax.isEncapsulated || b.transferSyntax.isEncapsulated
                {
                    guard a.transferSyntax.isEncapsulated, !b.transferSyntax.isEncapsulated else {
                        problems.append("\(source): arrived as \(b.transferSyntax.uid), not decoded")
                        continue
                    }
                    expected = try Transcoder().transcode(
                        a.dataSet, from: a.transferSyntax, to: .explicitVRLittleEndian)
                }
                let d = DataSetComparison.differences(expected, b.dataSet)
                if !d.isEmpty { problems.append("\(source) -> \(target): \(d.prefix(3).joined(separator: "; "))") }
            } catch {
                problems.append("\(source) or \(target) unreadable: \(error)")
            }
        }
        return problems
    }
}
