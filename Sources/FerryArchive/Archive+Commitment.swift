import FerryServices
import Glibc

/// Storage commitment over the archive: an instance is held when the called AE's area
/// indexes it and its file is there.
extension Archive: CommitmentHoldings {
    public func refusal(calledAE: String) -> String? {
        guard let area = areas[calledAE], !area.entry.canRead else { return nil }
        return "\(calledAE) has no read access"
    }

    public func failureReason(for reference: SOPReference, calledAE: String) -> UInt16? {
        guard let index = index(for: calledAE) else { return 0x0110 }
        let file: (sopClass: String, path: String)?
        do { file = try index.file(of: reference.sopInstance) } catch { return 0x0213 }
        guard let file, access(file.path, F_OK) == 0 else { return StorageCommitment.noSuchObjectInstance }
        return file.sopClass == reference.sopClass ? nil : StorageCommitment.classInstanceConflict
    }
}
