import FerryDICOM
import Glibc

/// The decoder process's side (`ferry codec-worker`): reads requests on standard input,
/// decodes each frame with the in-process codec, answers on standard output, until its input
/// closes. A crash, a stall or a memory blow-up in a C library ends this process only.
public enum DecodeWorker {
    /// Serves until the parent closes the pipe; returns the exit status. `memoryLimit`
    /// (bytes, 0 for none) caps the process's address space, so a library asked for
    /// absurd allocations fails here instead of pressing on the machine. `abortOn`: the
    /// process aborts on a frame of this transfer syntax (the test of a decoder that dies).
    public static func serve(memoryLimit: Int = 0, abortOn: String? = nil) -> Int32 {
        closeInheritedDescriptors()
        signal(SIGPIPE, SIG_IGN)
        if memoryLimit > 0 {
            var limit = rlimit(rlim_cur: rlim_t(memoryLimit), rlim_max: rlim_t(memoryLimit))
            _ = setrlimit(Int32(RLIMIT_AS.rawValue), &limit)
        }
        let reader = DecodeMessage.Reader { n throws(CodecError) in try readExactly(0, n) }
        while true {
            let magic: [UInt8]
            do { magic = try reader.magic() } catch { return 0 }  // the parent closed the pipe
            guard magic == DecodeMessage.request else { return 2 }
            var answer: [UInt8]
            do throws(CodecError) {
                let ts = try reader.string()
                var fields: [Int] = []
                for _ in 0..<7 { fields.append(try reader.int(max: Int(Int32.max))) }
                let photometric = try reader.string()
                let count = try reader.int(max: 1 << 20)
                var fragments: [ArraySlice<UInt8>] = []
                for _ in 0..<count { fragments.append(try reader.bytes()[...]) }
                let image = ImageDescription(
                    rows: fields[0], columns: fields[1], samplesPerPixel: fields[2], bitsAllocated: fields[3],
                    planarConfiguration: fields[4], bitsStored: fields[5], isSigned: fields[6] == 1,
                    photometric: photometric)
                answer = DecodeMessage.ok
                do throws(CodecError) {
                    guard let syntax = TransferSyntax.lookup(ts), let codec = Codecs.inProcess(for: syntax) else {
                        throw CodecError("no decoder for \(ts)", code: .unsupported)
                    }
                    if ts == abortOn { abort() }
                    let pixels = try codec.decode(fragments, image: image)
                    DecodeMessage.put(&answer, pixels)
                } catch {
                    answer = DecodeMessage.failure
                    DecodeMessage.put(&answer, Array(error.code.rawValue.utf8))
                    DecodeMessage.put(&answer, Array(error.message.utf8))
                }
            } catch {
                return 2  // a malformed request: the parent is not Ferry
            }
            guard writeAll(1, answer) else { return 0 }
        }
    }

    /// Closes every descriptor but standard input, output and error. The parent's sockets are
    /// not close-on-exec (SwiftNIO opens them without SOCK_CLOEXEC): a decoder process holding
    /// one would keep the connection open after Ferry closed it, and a peer waiting for that
    /// close (DCMTK's single-process storescp) would stall every association behind it.
    static func closeInheritedDescriptors() {
        // The listing's own descriptor is closed by then; closing its number again is harmless.
        let open = (DirectoryEntries.names("/proc/self/fd") ?? []).compactMap { Int32($0) }.filter { $0 > 2 }
        for fd in open { close(fd) }
    }

    static func readExactly(_ fd: Int32, _ n: Int) throws(CodecError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = out.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + got }, n - got) }
            if r < 0, errno == EINTR { continue }
            guard r > 0 else { throw CodecError("decoder process: input closed") }
            got += r
        }
        return out
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let w = bytes.withUnsafeBytes { write(fd, $0.baseAddress.map { $0 + done }, bytes.count - done) }
            if w < 0, errno == EINTR { continue }
            guard w > 0 else { return false }
            done += w
        }
        return true
    }
}
