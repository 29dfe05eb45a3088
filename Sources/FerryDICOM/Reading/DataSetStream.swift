#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file's data set, in its own transfer syntax, as a sequence of bounded chunks
/// straight from disk: sending a multi-gigabyte file holds one chunk in memory.
/// Owned by one task (not Sendable); closes its descriptor when released.
public final class DataSetStream {
    public let path: String
    public let layout: FileLayout
    /// Bytes of the data set (file size minus the preamble and meta).
    public let length: Int
    private let fd: Int32
    private var position: Int

    /// Opens `path` and positions it at the data set, after detecting the layout from its header.
    public init(path: String) throws(DICOMParseError) {
        self.path = path
        let (layout, size) = try FileBytes.withGrowingPrefix(path) { (prefix, size) throws(DICOMParseError) in
            (try FileLayout.detect(prefix, complete: prefix.count >= size), size)
        }
        self.layout = layout
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileBytes.ioError(path, "cannot open") }
        position = layout.dataSetOffset
        length = size - layout.dataSetOffset
    }

    deinit { close(fd) }

    /// The next chunk of at most `maxBytes`, or nil at the end of the file.
    public func next(maxBytes: Int = 256 * 1024) throws(DICOMParseError) -> [UInt8]? {
        let chunk = try FileBytes.readFully(fd, count: maxBytes, at: position, path: path)
        if chunk.isEmpty { return nil }
        position += chunk.count
        return chunk
    }

    /// Reads the whole data set (for small files and tests).
    public func readAll() throws(DICOMParseError) -> [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(length)
        while let chunk = try next() { all += chunk }
        return all
    }
}
