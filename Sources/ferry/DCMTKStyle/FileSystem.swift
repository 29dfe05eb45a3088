import Glibc

func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// Shell wildcards (`*`, `?`, `[...]`) on a file name, as DCMTK's +sp.
enum Wildcard {
    static func matches(_ pattern: String, _ name: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}

enum FerryVersion {
    static let string = "0.1.0"
}
