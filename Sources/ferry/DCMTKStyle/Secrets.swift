import FerryDICOM
import FerryNetwork
import FerryServices
import Glibc

/// Secrets on the command line: read from an environment variable or a file (FerryNetwork's
/// Secret), and when one is given on the command line anyway (DCMTK's -pwd and +pw), its bytes are
/// overwritten in the process's argument vector as soon as they are read, so /proc/PID/cmdline
/// and `ps` stop showing it.
enum Secrets {
    static func fromEnvironment(_ name: String) throws(CommandLineError) -> String {
        do { return try Secret.fromEnvironment(name) } catch { throw CommandLineError(message: error.description) }
    }

    static func fromFile(_ path: String) throws(CommandLineError) -> String {
        do { return try Secret.fromFile(path) } catch { throw CommandLineError(message: error.description) }
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
