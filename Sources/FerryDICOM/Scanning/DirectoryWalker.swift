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
        forEachFile(under: roots, onError: onError) { path, _ in out.append(path) }
        return out
    }

    /// Calls `body` with each file under `roots` and its stat (of the target, for a followed
    /// link) as the walk finds it: nothing proportional to the number of files is held.
    public func forEachFile(
        under roots: [String], onError: (DICOMError) -> Void = { _ in }, _ body: (String, stat) throws -> Void
    ) rethrows {
        for root in roots { try walk(root, depth: 0, isRoot: true, body: body, onError: onError) }
    }

    private static let maxDepth = 64
    private func walk(
        _ path: String, depth: Int, isRoot: Bool, body: (String, stat) throws -> Void, onError: (DICOMError) -> Void
    ) rethrows {
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
            try body(path, st)
        case S_IFDIR:
            guard isRoot || (recursive && depth < Self.maxDepth) else { return }
            guard let names = DirectoryEntries.names(path) else {
                onError(DICOMError(.io, "cannot read the directory", path: path, errno: errno))
                return
            }
            let prefix = path.hasSuffix("/") ? path : path + "/"
            for name in names.sorted() {
                try walk(prefix + name, depth: depth + 1, isRoot: false, body: body, onError: onError)
            }
        default:
            break
        }
    }
}
