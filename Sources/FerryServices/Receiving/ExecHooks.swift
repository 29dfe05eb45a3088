import FerryDICOM
import FerryNetwork
import Glibc
import Logging

extension ExecHooks {
    /// Replaces the placeholders with shell-quoted words (a path or an AE title with spaces
    /// or quotes stays one argument; write `#p/#f`, not `"#p/#f"`). AE titles and the peer keep
    /// letters, digits, space, '-', '_' and '.' (the rest becomes '_') and cannot start with
    /// '-', so a peer cannot pass an option to the command.
    static func expand(
        _ command: String, directory: String, file: String?, callingAE: String, calledAE: String, peer: String
    ) -> String {
        func safe(_ s: String) -> String {
            var t = String(s.map { $0.isLetter && $0.isASCII || $0.isNumber || " -_.".contains($0) ? $0 : "_" })
            if t.hasPrefix("-") { t = "_" + t.dropFirst() }
            return t
        }
        func quoted(_ s: String) -> String { "'" + s.replacingAll("'", with: "'\\''") + "'" }
        let values: [Character: String] = [
            "p": quoted(directory), "f": quoted(file ?? ""), "a": quoted(safe(callingAE)),
            "c": quoted(safe(calledAE)), "r": quoted(safe(peer)),
        ]
        // One pass, so a value that contains "#f" is not expanded again.
        var out = ""
        var rest = Substring(command)
        while let hash = rest.firstIndex(of: "#") {
            out += rest[..<hash]
            let next = rest.index(after: hash)
            if next < rest.endIndex, let value = values[rest[next]] {
                out += value
                rest = rest[rest.index(after: next)...]
            } else {
                out += "#"
                rest = rest[next...]
            }
        }
        return out + rest
    }

    /// Runs a command line with /bin/sh; waits for it with `synchronous` (-xs).
    func execute(_ line: String, logger: Logger) {
        logger.info("executing command line: \(line)")
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(line), nil]
        defer { for p in argv { free(p) } }
        let rc = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
        guard rc == 0 else {
            logger.error("cannot execute \(line): \(String(cString: strerror(rc)))")
            return
        }
        if synchronous {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        } else {
            // Reap it in the background so no zombie is left.
            let child = pid
            Thread.detach {
                var status: Int32 = 0; waitpid(child, &status, 0)
            }
        }
    }

    /// A study ended (-rns, then -xcs).
    func studyCompleted(
        _ study: StudySorting.CompletedStudy, callingAE: String, calledAE: String, peer: String, logger: Logger
    ) {
        if renameOnEndOfStudy { Self.renameStudyFiles(in: study.directory, logger: logger) }
        if let cmd = onEndOfStudy {
            execute(
                Self.expand(
                    cmd, directory: study.directory, file: nil, callingAE: callingAE, calledAE: calledAE, peer: peer),
                logger: logger)
        }
    }

    /// -rns: renames a completed study's files to <two-letter modality prefix><6 digits>,
    /// numbering on from the files an earlier pass of the same study already renamed and never
    /// replacing a file (link, then unlink: a name that exists is skipped, not overwritten).
    static func renameStudyFiles(in directory: String, logger: Logger) {
        let names = DirectoryWalker(recursive: false).files(under: [directory])
            .map { String($0.split(separator: "/").last ?? "") }.filter { !$0.hasPrefix(".") }
        func number(_ name: String) -> Int? {
            guard name.count == 8, name.prefix(2).allSatisfy(\.isLetter) else { return nil }
            return Int(name.dropFirst(2))
        }
        var next = (names.compactMap(number).max() ?? 0) + 1
        for name in names.sorted() where number(name) == nil {
            let prefix = String((name.split(separator: ".").first ?? "XX").prefix(2)).uppercased()
            while true {
                let digits = String(next)
                let target = directory + "/" + prefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
                next += 1
                if link(directory + "/" + name, target) == 0 {
                    unlink(directory + "/" + name)
                    break
                }
                guard errno == EEXIST else {
                    logger.error("cannot rename \(name) in \(directory): \(String(cString: strerror(errno)))")
                    break
                }
            }
        }
    }
}

/// A detached POSIX thread for fire-and-forget blocking work (reaping a child).
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b }
        }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(
            &thread, nil,
            { arg in
                guard let arg else { return nil }
                let box = Unmanaged<Box>.fromOpaque(arg).takeRetainedValue()
                box.body()
                return nil
            }, box)
        if rc == 0 { pthread_detach(thread) } else { Unmanaged<Box>.fromOpaque(box).release() }
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Substring.Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) { return i..<index(i, offsetBy: target.count) }
            i = index(after: i)
        }
        return nil
    }
}
