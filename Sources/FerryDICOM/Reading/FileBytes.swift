import Glibc

/// Reads files with POSIX calls: whole, or a bounded prefix (header mode), or in chunks (streaming).
public enum FileBytes {
    /// The first `maxBytes` of a file and the file's size.
    public static func readPrefix(
        _ path: String, maxBytes: Int
    ) throws(DICOMError) -> (bytes: [UInt8], fileSize: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path, "cannot open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError(path, "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw DICOMError(.io, "not a regular file", path: path)
        }
        let size = Int(st.st_size)
        let want = min(size, maxBytes)
        let bytes = try readFully(fd, count: want, at: 0, path: path)
        return (bytes, size)
    }

    /// Calls `body` with a prefix of the file, retrying with a 4x larger prefix while it
    /// needs more data (the header did not fit). Errors carry the path.
    static func withGrowingPrefix<T>(
        _ path: String, initial: Int = 16 * 1024,
        _ body: ([UInt8], Int) throws(DICOMError) -> T
    ) throws(DICOMError) -> T {
        do {
            var prefixSize = initial
            while true {
                let (bytes, size) = try readPrefix(path, maxBytes: prefixSize)
                do {
                    return try body(bytes, size)
                } catch  where error.code == .needMoreData && bytes.count < size {
                    prefixSize = prefixSize > Int.max / 4 ? Int.max : prefixSize * 4
                }
            }
        } catch {
            throw error.at(path: path)
        }
    }

    public static func readAll(_ path: String) throws(DICOMError) -> [UInt8] {
        try readPrefix(path, maxBytes: Int.max).bytes
    }

    /// Reads `count` bytes at `offset`; fewer only if the file is shorter.
    static func readFully(_ fd: Int32, count: Int, at offset: Int, path: String) throws(DICOMError) -> [UInt8] {
        var done = 0
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            guard let base = buf.baseAddress else { initialized = 0; return }
            while done < count {
                let n = pread(fd, base + done, count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            initialized = done
        }
        if failure != 0 { throw ioError(path, "read failed", errnoValue: failure) }
        return bytes
    }

    /// Writes `bytes` to a new file at `path` (created, or truncated), optionally fsynced.
    public static func write(_ bytes: [UInt8], to path: String, sync: Bool = false) throws(DICOMError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError(path, "cannot create") }
        defer { close(fd) }
        var done = 0
        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            while done < raw.count {
                let n = Glibc.write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if failure != 0 { throw ioError(path, "write failed", errnoValue: failure) }
        if sync && fsync(fd) != 0 { throw ioError(path, "fsync failed") }
    }

    static func ioError(_ path: String, _ what: String, errnoValue: Int32 = errno) -> DICOMError {
        DICOMError(.io, what, path: path, errno: errnoValue)
    }
}
