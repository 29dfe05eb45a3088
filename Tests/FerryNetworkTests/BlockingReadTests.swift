import FerryDICOM
import FerryNetwork
import Foundation
import Glibc
import TestSupport
import Testing

/// Data set bytes not in the page cache are read on the blocking pool, never on an event loop:
/// the source refuses to wait when asked not to, and a file evicted from the cache still
/// travels byte for byte.
@Suite(.scratch)
struct BlockingReadTests {
    /// A folder on the clone's disk (a tmpfs /tmp keeps every page in memory).
    static func diskDirectory(_ name: String) throws -> String {
        let path = Corpus.packageRoot.path + "/.build/test-uncached-\(getpid())/\(name)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func remove(_ directory: String) {
        try? FileManager.default.removeItem(atPath: directory)
        rmdir(Corpus.packageRoot.path + "/.build/test-uncached-\(getpid())")  // once the last test is done
    }

    /// Writes `bytes`, makes them durable and drops the file's pages from the page cache.
    static func writeUncached(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let fd = open(path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        _ = fsync(fd)
        #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
    }

    @Test func aSourceAskedNotToBlockRefusesBytesThatAreOnlyOnDisk() throws {
        let directory = try Self.diskDirectory("source")
        defer { Self.remove(directory) }
        let path = directory + "/data.bin"
        let bytes = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) }
        try Self.writeUncached(bytes, to: path)
        var source = try FileRangeSource(path: path, offset: 1000, length: bytes.count - 1000)
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        try buffer.withUnsafeMutableBytes { raw in
            #expect(throws: WouldBlock.self) { try source.read(into: raw, withoutBlocking: true) }
            // Nothing was consumed: the blocking read returns the same bytes.
            try source.read(into: raw, withoutBlocking: false)
        }
        #expect(Array(buffer) == Array(bytes[1000..<1000 + buffer.count]))
        // Now in the cache: read without waiting.
        var again = try FileRangeSource(path: path, offset: 1000, length: bytes.count - 1000)
        try buffer.withUnsafeMutableBytes { raw in try again.read(into: raw, withoutBlocking: true) }
        #expect(Array(buffer) == Array(bytes[1000..<1000 + buffer.count]))
    }

    @Test func anOddRangeReadWithoutBlockingGetsItsPadByte() throws {
        let directory = try Self.diskDirectory("odd")
        defer { Self.remove(directory) }
        let path = directory + "/odd.bin"
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: path))
        var source = try FileRangeSource(path: path, offset: 0, length: 5, padToEven: true)
        #expect(source.length == 6)
        var buffer = [UInt8](repeating: 0xFF, count: 6)
        try buffer.withUnsafeMutableBytes { raw in try source.read(into: raw, withoutBlocking: true) }
        #expect(buffer == [1, 2, 3, 4, 5, 0])
    }

    /// `ferry storescu` of CT files whose pages were dropped: every one arrives identical.
    @Test func filesEvictedFromTheCacheTravelIntact() throws {
        let sources = Array(try Corpus.files("small").prefix(12))
        let directory = try Self.diskDirectory("send")
        defer { Self.remove(directory) }
        var copies: [String] = []
        for (i, path) in sources.enumerated() {
            let copy = directory + "/f\(i).dcm"
            try Self.writeUncached(Array(try Data(contentsOf: URL(fileURLWithPath: path))), to: copy)
            copies.append(copy)
        }
        let out = try Corpus.temporaryDirectory("uncached-rx")
        let peer = try PeerProcess.ferryStorescp(outputDirectory: out, ["+xa"])
        defer { peer.stop() }
        let result = try FerryCLI.run(["storescu", "127.0.0.1", String(peer.port)] + copies)
        #expect(result.status == 0, "\(result.stderr)")
        for path in copies {
            let sent = try HeaderScan.summary(path: path)
            let received =
                out + "/"
                + (try FileManager.default.contentsOfDirectory(atPath: out).first {
                    $0.contains(sent.sopInstanceUID ?? "?")
                } ?? "missing")
            let a = try Part10Reader.read(path: path)
            let b = try Part10Reader.read(path: received)
            #expect(a.transferSyntax == b.transferSyntax, "\(path) travelled as it is")
            #expect(DataSetComparison.differences(a.dataSet, b.dataSet).isEmpty, "\(path)")
        }
    }
}
