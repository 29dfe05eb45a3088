import Glibc
import Synchronization

/// Files displaced when a store replaces an instance already on disk, kept under a hidden
/// temporary name and written over as a later instance's temporary file. Storing over
/// existing files then frees and allocates no inode and (mostly) no block, as DCMTK's
/// in-place overwrite does, while each file still appears whole by rename. Why it matters:
/// ext4 without a journal makes every new inode skip, one by one, each inode freed in the
/// last one to five minutes (recently_deleted()), so freeing one per store made storing over
/// a folder quadratic; and a rename over a file whose blocks are not yet allocated makes
/// ext4 allocate them and start their writeback inside the rename (auto_da_alloc).
public final class SpareFiles: Sendable {
    /// Enough for the stores of a few associations at once; more displaced files are freed.
    static let limit = 8
    private let paths = Mutex<[String]>([])

    public init() {}

    /// A spare in `directory`, opened for writing over its old data (the writer cuts it to
    /// its new length: blocks are overwritten in place, not freed and allocated again), or
    /// nil when there is none.
    /// A spare that gained another name meanwhile (nlink > 1) is not written: its data is
    /// someone's file.
    func take(in directory: String) -> (fd: Int32, path: String)? {
        while let path = paths.withLock({ list in
            list.firstIndex { $0.hasPrefix(directory + "/") }.map { list.remove(at: $0) }
        }) {
            let fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var info = stat()
            if fstat(fd, &info) == 0, info.st_nlink == 1, (info.st_mode & S_IFMT) == S_IFREG {
                fchmod(fd, 0o644)  // as a new file's (the replaced one's mode may have been changed)
                return (fd, path)
            }
            close(fd)
            unlink(path)
        }
        return nil
    }

    /// Keeps the file at `path`, about to be replaced by a rename, as a spare: a second name
    /// in `directory` keeps its inode alive. Nothing happens when no file is there.
    func keep(replacing path: String, in directory: String) {
        guard paths.withLock({ $0.count }) < Self.limit else { return }
        let spare = ReceivedFile.scratchName(in: directory)
        guard link(path, spare) == 0 else { return }
        paths.withLock { $0.append(spare) }
    }

    /// Removes the spares (the receiver is stopping).
    public func removeAll() {
        for path in paths.withLock({ list in
            defer { list.removeAll() }; return list
        }) { unlink(path) }
    }

    deinit { removeAll() }
}
