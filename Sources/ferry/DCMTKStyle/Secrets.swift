#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FerryDICOM

/// Secrets (user identity passcodes, key passwords) are read from an environment variable or
/// a file. When one is given on the command line anyway (DCMTK's -pwd and +pw), its bytes are
/// overwritten in the process's argument vector as soon as they are read, so /proc/PID/cmdline
/// and `ps` stop showing it.
enum Secrets {
    static func fromEnvironment(_ name: String) throws(CommandLineError) -> String {
        guard let v = getenv(name) else { throw CommandLineError(message: "environment variable \(name) is not set") }
        return String(cString: v)
    }

    static func fromFile(_ path: String) throws(CommandLineError) -> String {
        guard let bytes = try? FileBytes.readAll(path) else { throw CommandLineError(message: "cannot read secret file \(path)") }
        var s = String(decoding: bytes, as: UTF8.self)
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }

    /// Overwrites every argv entry equal to `secret` with 'x'.
    static func scrubFromArguments(_ secret: String) {
        guard !secret.isEmpty else { return }
        for i in 1..<Int(CommandLine.argc) {
            guard let p = CommandLine.unsafeArgv[i], String(cString: p) == secret else { continue }
            memset(p, 0x78, strlen(p))
        }
    }
}
