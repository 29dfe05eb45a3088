#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Names in one directory (no recursion, no dot entries), for CA certificate directories.
struct DirectoryListing {
    private var dir: OpaquePointer?
    init(_ path: String) { dir = opendir(path) }

    mutating func next() -> String? {
        guard let d = dir else { return nil }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            return name
        }
        closedir(d)
        dir = nil
        return nil
    }
}
