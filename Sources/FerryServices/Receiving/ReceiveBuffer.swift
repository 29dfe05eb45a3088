import Glibc
import NIOCore

/// The socket receive buffer and reads of every association a StorageSCP accepts (what
/// stores). Linux sizes the buffer by the bytes read per round trip, so on loopback, where a
/// round trip is microseconds, it stays small: a sender with a window of stores in flight is
/// then always ahead of it, and every read the receiver makes sends the sender's next segments
/// on the receiver's CPU (loopback TCP transmits in the context of whoever processes the ACK
/// that opens the window; 30% of the receiver's samples with a window of 16 CT images). A
/// buffer that holds several stores lets the sender transmit in its own context. Set only where
/// the system allows the whole size (net.core.rmem_max): a smaller, fixed buffer would end the
/// kernel's autotuning below what a long link needs.
enum ReceiveBuffer {
    /// Reads of up to 256 KiB where NIO stops at 64 KiB: a quarter as many reads (and window
    /// updates sent to the peer), and a 16 KiB PDU cut by the end of a read, which is copied
    /// to be whole, a quarter as often (receiver CPU 0.35 -> 0.30 s for the 1,000 CT images of
    /// the receiver benchmark; 128 KiB: 0.32 s, 512 KiB: 0.30 s).
    static let reads = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 << 10)

    /// Asked of setsockopt; the kernel doubles it for its bookkeeping (8 MiB in all).
    static let requested = 4 << 20

    /// `requested`, or nil where rmem_max is lower (or unreadable): the kernel's own sizing.
    static let size: Int? = {
        // A /proc file reports no size: read it with read(2), not by its length.
        let fd = open("/proc/sys/net/core/rmem_max", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0, let max = Int(String(decoding: bytes.prefix(n), as: UTF8.self).filter(\.isNumber)),
            max >= requested
        else { return nil }
        return requested
    }()
}
