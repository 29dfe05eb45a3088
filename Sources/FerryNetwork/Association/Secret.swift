import FerryDICOM
import Glibc

/// Secrets (user identity passwords, key passwords) come from an environment variable or a
/// file, never from a job file or the command line.
public enum Secret {
    public static func fromEnvironment(_ name: String) throws(AssociationError) -> String {
        guard let v = getenv(name) else {
            throw AssociationError(.secretUnavailable, "environment variable \(name) is not set")
        }
        return String(cString: v)
    }

    /// The file's text without its trailing line break.
    public static func fromFile(_ path: String) throws(AssociationError) -> String {
        guard let bytes = try? FileBytes.readAll(path) else {
            throw AssociationError(.secretUnavailable, "cannot read secret file \(path)")
        }
        var s = String(decoding: bytes, as: UTF8.self)
        while s.last == "\n" || s.last == "\r" { s.removeLast() }
        return s
    }
}
