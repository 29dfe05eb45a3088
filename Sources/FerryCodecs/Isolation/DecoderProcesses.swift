import FerryDICOM
import Glibc
import Synchronization

/// Decoder processes for the codecs backed by C libraries (CharLS, OpenJPEG): a frame from a
/// file is decoded in a child process (`DecodeWorker`), so a crash, an endless loop or a huge
/// allocation inside a library costs that frame's file, never the run. Each frame has a time
/// limit (a base plus a share per decoded megabyte); a process that passes it, dies or answers
/// out of protocol is killed and replaced, and the frame fails with a `CodecError`.
///
/// Why: CharLS 2.4.1 spends about 13 s in a bit-reading loop on a truncated JPEG-LS scan (a
/// fuzzer finding), once per frame; OpenJPEG 2.5.0 aborts on some HT blocks. Idle processes
/// are kept for the next frame (one per preparation thread at most, in practice).
public final class DecoderProcesses: Sendable {
    public struct Configuration: Sendable {
        /// The program and arguments that start a `DecodeWorker` (`ferry codec-worker`).
        public var executable: String
        public var arguments: [String]
        /// Every frame may take this long, plus `perMegabyte` per MiB of decoded pixels.
        public var baseTimeLimit: Double = 5
        public var perMegabyte: Double = 0.5

        public init(executable: String, arguments: [String]) {
            self.executable = executable
            self.arguments = arguments
        }

        func timeLimit(decodedBytes: Int) -> Double { baseTimeLimit + perMegabyte * Double(decodedBytes) / 1_048_576 }
    }

    /// The processes `Codecs.decoder(for:)` uses when set (by `ferry` at start-up); nil: the
    /// libraries run in this process.
    public static let shared = Mutex<DecoderProcesses?>(nil)

    public let configuration: Configuration
    private let idle = Mutex<[Worker]>([])

    public init(_ configuration: Configuration) {
        self.configuration = configuration
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        for w in idle.withLock({ $0 }) { w.stop(kill: false) }
    }

    /// Decodes one frame in a decoder process.
    func decode(
        _ fragments: [ArraySlice<UInt8>], syntax: TransferSyntax, image: ImageDescription, frameLength: Int
    ) throws(CodecError) -> [UInt8] {
        let request = DecodeMessage.encodeRequest(transferSyntax: syntax.uid, image: image, fragments: fragments)
        let worker: Worker
        if let reused = idle.withLock({ $0.popLast() }) {
            worker = reused
        } else {
            worker = try Worker.start(configuration)
        }
        let limit = configuration.timeLimit(decodedBytes: frameLength)
        let answer: Result<[UInt8], CodecError>
        do throws(CodecError) {
            let deadline = Worker.now() + limit
            try worker.send(request, deadline: deadline)
            let reader = DecodeMessage.Reader { n throws(CodecError) in try worker.receive(n, deadline: deadline) }
            let magic = try reader.magic()
            if magic == DecodeMessage.ok {
                // The length must be the frame's: a process whose memory a library corrupted
                // cannot make Ferry allocate what it claims.
                let length = try reader.integer()
                guard length == UInt64(frameLength) else {
                    throw CodecError("decoder process: \(length) bytes for a frame of \(frameLength)", code: .worker)
                }
                answer = .success(try worker.receive(frameLength, deadline: deadline))
            } else if magic == DecodeMessage.failure {
                let code = try reader.string()
                answer = .failure(CodecError(try reader.string(), code: CodecError.Code(rawValue: code)))
            } else {
                throw CodecError("decoder process: an answer out of protocol", code: .worker)
            }
        } catch {
            // Over time, dead or confused: this process is done; the next frame gets a new one.
            worker.stop(kill: true)
            throw CodecError(
                "\(error.message) (\(syntax.name) decoding in a separate process, limit \(Int(limit.rounded(.up))) s)",
                code: .library)
        }
        idle.withLock { $0.append(worker) }
        return try answer.get()
    }

    /// One decoder process and its pipes (the parent's ends are non-blocking, waited on with poll).
    final class Worker: @unchecked Sendable {  // used by one decode at a time (taken from `idle`)
        let pid: pid_t
        let input: Int32  // its standard input
        let output: Int32  // its standard output
        private(set) var isAlive = true

        init(pid: pid_t, input: Int32, output: Int32) {
            self.pid = pid
            self.input = input
            self.output = output
        }

        static func now() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }

        static func start(_ c: Configuration) throws(CodecError) -> Worker {
            var toChild: [Int32] = [0, 0]
            var fromChild: [Int32] = [0, 0]
            guard pipe(&toChild) == 0 else { throw CodecError("cannot make a pipe", code: .worker) }
            guard pipe(&fromChild) == 0 else {
                close(toChild[0])
                close(toChild[1])
                throw CodecError("cannot make a pipe", code: .worker)
            }
            // Not inherited by this or other children (dup2 gives the child its own copies).
            for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
            posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
            var pid: pid_t = 0
            let status =
                withCStrings([c.executable] + c.arguments) { argv in
                    posix_spawn(&pid, c.executable, &actions, nil, argv, environ)
                } ?? EINVAL
            close(toChild[0])
            close(fromChild[1])
            guard status == 0 else {
                close(toChild[1])
                close(fromChild[0])
                throw CodecError(
                    "cannot start the decoder process \(c.executable): \(String(cString: strerror(status)))",
                    code: .worker)
            }
            for fd in [toChild[1], fromChild[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
            return Worker(pid: pid, input: toChild[1], output: fromChild[0])
        }

        func send(_ bytes: [UInt8], deadline: Double) throws(CodecError) {
            var done = 0
            while done < bytes.count {
                let w = bytes.withUnsafeBytes { write(input, $0.baseAddress.map { $0 + done }, bytes.count - done) }
                if w > 0 {
                    done += w
                    continue
                }
                guard w < 0, errno == EAGAIN || errno == EINTR else { throw gone() }
                try wait(input, events: Int16(POLLOUT), deadline: deadline)
            }
        }

        func receive(_ n: Int, deadline: Double) throws(CodecError) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: n)
            var got = 0
            while got < n {
                let r = out.withUnsafeMutableBytes { read(output, $0.baseAddress.map { $0 + got }, n - got) }
                if r > 0 {
                    got += r
                    continue
                }
                guard r < 0, errno == EAGAIN || errno == EINTR else { throw gone() }
                try wait(output, events: Int16(POLLIN), deadline: deadline)
            }
            return out
        }

        private func wait(_ fd: Int32, events: Int16, deadline: Double) throws(CodecError) {
            let left = deadline - Self.now()
            guard left > 0 else { throw CodecError("decoder process: over its time limit", code: .worker) }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if r < 0, errno != EINTR { throw gone() }
        }

        /// The process died or closed its pipe: reaped, with what ended it.
        private func gone() -> CodecError {
            var status: Int32 = 0
            let r = waitpid(pid, &status, 0)
            isAlive = false
            guard r == pid else { return CodecError("decoder process: its pipe closed", code: .worker) }
            let signal = status & 0x7F
            if signal != 0 {
                return CodecError(
                    "decoder process: ended by signal \(signal) (\(String(cString: strsignal(signal))))", code: .worker)
            }
            return CodecError("decoder process: exited with status \((status >> 8) & 0xFF)", code: .worker)
        }

        func stop(kill force: Bool) {
            close(input)
            close(output)
            guard isAlive else { return }
            if force { Glibc.kill(pid, SIGKILL) }
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            isAlive = false
        }
    }
}

/// `strings` as a NULL-terminated array of C strings, valid during `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R? {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buffer in buffer.baseAddress.map(body) }
}
