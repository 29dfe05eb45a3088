import FerryDICOM
import Glibc

/// The bytes of one data set to send, read in order into caller-provided buffers, so a file
/// goes from disk to the socket buffer without an intermediate copy of the whole data set.
public protocol DataSetSource: Sendable {
    var length: Int { get }
    /// Whether reading may block (a file): the sender then tries `withoutBlocking` first and
    /// reads on the `BlockingPool` when the bytes are not in memory.
    var blocks: Bool { get }
    /// Fills `buffer` completely (or throws): the sender always asks for bytes it knows exist.
    /// With `withoutBlocking`, throws `WouldBlock` (having read nothing) instead of waiting for
    /// the disk.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer, withoutBlocking: Bool) throws
}

extension DataSetSource {
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws {
        try read(into: buffer, withoutBlocking: false)
    }
}

/// The bytes asked for are not in the page cache: reading them would wait for the disk. A
/// signal, not a failure: the association reads them on the blocking pool instead.
public struct WouldBlock: Error {}

/// A byte range of a file, read with pread: the data set of a Part 10 file sent as it is.
public struct FileRangeSource: DataSetSource {
    public var blocks: Bool { true }
    public let path: String
    public let length: Int
    private let fd: FileDescriptorBox
    private var offset: Int
    private let end: Int
    private static let nowait: Int32 = 0x0000_0008  // RWF_NOWAIT
    /// glibc's preadv2 (2.26), which the Glibc module does not export (it needs _GNU_SOURCE).
    private static let preadv2: (@convention(c) (Int32, UnsafePointer<iovec>?, Int32, off_t, Int32) -> Int)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "preadv2") else { return nil }
        return unsafeBitCast(
            symbol, to: (@convention(c) (Int32, UnsafePointer<iovec>?, Int32, off_t, Int32) -> Int).self)
    }()

    /// With `padToEven`, an odd-length range is followed by one NUL byte (deflated streams, PS3.5 A.5).
    public init(path: String, offset: Int, length: Int, padToEven: Bool = false) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw DICOMError(.io, "cannot open", path: path, errno: errno)
        }
        self.fd = FileDescriptorBox(fd)
        self.path = path
        self.offset = offset
        self.end = offset + length
        self.length = padToEven && length % 2 == 1 ? length + 1 : length
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer, withoutBlocking: Bool) throws {
        guard let base = buffer.baseAddress else { return }
        if withoutBlocking {
            // preadv2 with RWF_NOWAIT reads only what the page cache holds (Linux 4.14).
            let wanted = min(buffer.count, end - offset)
            guard let preadv2 = Self.preadv2 else { throw WouldBlock() }
            var iov = iovec(iov_base: base, iov_len: wanted)
            let n = preadv2(fd.fd, &iov, 1, off_t(offset), Self.nowait)
            guard n == wanted else { throw WouldBlock() }
            if wanted < buffer.count { (base + wanted).storeBytes(of: 0, as: UInt8.self) }
            offset += buffer.count
            return
        }
        var done = 0
        while done < buffer.count {
            if offset >= end {
                // The pad byte after an odd-length range.
                (base + done).storeBytes(of: 0, as: UInt8.self)
                done += 1
                offset += 1
                continue
            }
            let n = pread(fd.fd, base + done, min(buffer.count - done, end - offset), off_t(offset))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                throw n == 0
                    ? DICOMError(.truncated, "file shrank while being sent", path: path, offset: offset)
                    : DICOMError(.io, "read error", path: path, offset: offset, errno: errno)
            }
            done += n
            offset += n
        }
    }
}

/// An in-memory data set (after a transfer syntax conversion).
public struct BytesSource: DataSetSource {
    public var blocks: Bool { false }
    public let bytes: [UInt8]
    private var position = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var length: Int { bytes.count }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer, withoutBlocking: Bool) throws {
        let n = buffer.count
        guard position + n <= bytes.count else {
            throw DICOMError(.truncated, "read past the end of an encoded data set", offset: position)
        }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[position..<position + n]))
        }
        position += n
    }
}

final class FileDescriptorBox: Sendable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
