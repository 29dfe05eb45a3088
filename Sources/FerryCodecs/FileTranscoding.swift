import FerryDICOM
import Foundation

extension Transcoder {
    /// Reads the Part 10 file at `source`, transcodes it to `target` and writes it to
    /// `destination` (directories created) with Ferry's implementation UID in its file meta:
    /// what `ferry transcode` does for each file, and what the codec tests call in process.
    public func transcodeFile(
        _ source: String, to target: TransferSyntax, writingTo destination: String,
        deflateLevel: Int32 = Deflate.defaultLevel
    ) throws {
        let file = try Part10Reader.read(path: source)
        let ds = try transcode(file.dataSet, from: file.transferSyntax, to: target)
        var meta = file.meta
        if meta.isEmpty { meta = Part10Writer.fileMeta(for: ds, transferSyntax: target) }
        if let instance = ds.string(.sopInstanceUID) { meta.set(.mediaStorageSOPInstanceUID, .UI, instance) }
        meta.set(.implementationClassUID, .UI, UIDGenerator.implementationClassUID)
        meta.set(.implementationVersionName, .SH, UIDGenerator.implementationVersionName)
        let bytes = try Part10Writer.encode(ds, transferSyntax: target, meta: meta, deflateLevel: deflateLevel)
        try FileManager.default.createDirectory(
            atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileBytes.write(bytes, to: destination)
    }
}
