import Glibc

/// Lists the regular files under paths, depth first, in a stable (sorted) order.
public struct DirectoryWalker: Sendable {
    public enum SymlinkPolicy: String, Sendable, Codable { case follow, skip }

    public var recursive = true
    public var symlinks: SymlinkPolicy = .skip

    public init(recursive: Bool = true, symlinks: SymlinkPolicy = .skip) {
        self.recursive = recursive
        self.symlinks = symlinks
    }

    /// Files under `roots` (a root that is a file is listed as is). Unreadable directories are
    /// reported through `onError` and skipped; symlink loops cannot recur past `maxDepth`.
    public func files(under roots: [String], onError: (DICOMError) -> Void = { _ in }) -> [String] {
        var out: [String] = []
        for root in roots { walk(root, depth: 0, isRoot: true, into: &out, onError: onError) }
        return out
    }

    private static let maxDepth = 64
    private func walk(
        _ path: String, depth: Int, isRoot: Bool, into out: inout [String], onError: (DICOMError) -> Void
    ) {
        var st = stat()
        guard lstat(path, &st) == 0 else { onError(DICOMError(.io, "cannot stat", path: path, errno: errno)); return }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard symlinks == .follow || isRoot else { return }
            guard stat(path, &st) == 0 else {
                onError(DICOMError(.io, "dangling symbolic link", path: path, errno: errno))
                return
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            out.append(path)
        case S_IFDIR:
            guard isRoot || (recursive && depth < Self.maxDepth) else { return }
            guard let names = DirectoryEntries.names(path) else {
                onError(DICOMError(.io, "cannot read the directory", path: path, errno: errno))
                return
            }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            for name in names.sorted() {
                walk(prefix + name, depth: depth + 1, isRoot: false, into: &out, onError: onError)
            }
        default:
            break
        }
    }
}
