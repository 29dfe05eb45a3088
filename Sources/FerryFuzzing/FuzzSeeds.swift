import FerryCodecs
import FerryDICOM

/// Seed inputs from DICOM files: header-sized prefixes for the reader, each encapsulated
/// file's first frame for the codec target of its syntax.
public enum FuzzSeeds {
    public static func fromFiles(_ paths: [String]) -> [String: [[UInt8]]] {
        var seeds: [String: [[UInt8]]] = [:]
        for path in paths {
            guard let bytes = try? FileBytes.readAll(path) else { continue }
            seeds["reader", default: []].append(Array(bytes.prefix(4096)))
            guard let file = try? Part10Reader.read(bytes: bytes),
                let frames = try? file.dataSet.encapsulatedFrames(), let first = frames.first,
                let attributes = try? PixelAttributes(file.dataSet),
                let (name, seed) = FuzzTarget.seed(
                    for: file.transferSyntax, frame: Array(first.joined()), image: ImageDescription(attributes))
            else { continue }
            seeds[name, default: []].append(seed)
        }
        return seeds
    }

    /// Writes `target`'s seeds, and those of the files under `root`, into `directory`
    /// (libFuzzer's corpus), unless it already holds inputs.
    public static func write(_ target: FuzzTarget, filesUnder root: String, to directory: String) {
        guard DirectoryWalker().files(under: [directory]).isEmpty else { return }
        let files = DirectoryWalker().files(under: [root])
        for (i, seed) in (target.seeds() + (fromFiles(files)[target.name] ?? [])).enumerated() {
            try? FileBytes.write(seed, to: "\(directory)/seed-\(i)")
        }
    }
}
