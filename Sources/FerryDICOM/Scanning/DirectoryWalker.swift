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
        for root in roots { try walk(root, body: body, onError: onError) }
    }

    private static let maxDepth = 64

    /// Whether the walk of `outer` lists `inner` (a path under it) and what lies under it as
    /// `inner`'s own walk does: every folder between them entered (recursive, no link skipped,
    /// within the depth limit).
    public func reaches(_ inner: String, from outer: String) -> Bool {
        let trimmed = outer.count > 1 && outer.hasSuffix("/") ? String(outer.dropLast()) : outer
        let prefix = trimmed == "/" ? "/" : trimmed + "/"
        guard inner.hasPrefix(prefix) else { return inner == trimmed }
        let steps = inner.dropFirst(prefix.count).split(separator: "/")
        guard recursive || steps.count <= 1, steps.count < Self.maxDepth else { return false }
        var path = trimmed
        for (k, step) in steps.enumerated() {
            path = path == "/" ? "/" + step : path + "/" + step
            var st = stat()
            guard lstat(path, &st) == 0 else { return false }
            if (st.st_mode & S_IFMT) == S_IFLNK && symlinks == .skip { return false }
            // A folder that `inner` is: outer's walk enters it only when recursive.
            if k == steps.count - 1, !recursive, (st.st_mode & S_IFMT) != S_IFREG {
                var target = stat()
                if stat(path, &target) == 0, (target.st_mode & S_IFMT) == S_IFDIR { return false }
            }
        }
        return true
    }

    /// A root: a file, a directory, or a link to either (followed whatever the policy).
    private func walk(
        _ path: String, body: (String, stat) throws -> Void, onError: (DICOMError) -> Void
    ) rethrows {
        var st = stat()
        guard lstat(path, &st) == 0 else { onError(DICOMError(.io, "cannot stat", path: path, errno: errno)); return }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            guard stat(path, &st) == 0 else {
                onError(DICOMError(.io, "dangling symbolic link", path: path, errno: errno))
                return
            }
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: try body(path, st)
        case S_IFDIR: try walkDirectory(path, depth: 0, body: body, onError: onError)
        default: break
        }
    }

    /// A directory's entries, each stat'ed relative to the open directory (no lookup of the
    /// whole path per file: the walk of a million files spent most of its time there).
    private func walkDirectory(
        _ path: String, depth: Int, body: (String, stat) throws -> Void, onError: (DICOMError) -> Void
    ) rethrows {
        guard let dir = opendir(path) else {
            onError(DICOMError(.io, "cannot read the directory", path: path, errno: errno))
            return
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        let prefix = path.hasSuffix("/") ? path : path + "/"
        for name in DirectoryEntries.names(of: dir).sorted() {
            let child = prefix + name
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                onError(DICOMError(.io, "cannot stat", path: child, errno: errno))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard symlinks == .follow else { continue }
                guard fstatat(fd, name, &st, 0) == 0 else {
                    onError(DICOMError(.io, "dangling symbolic link", path: child, errno: errno))
                    continue
                }
            }
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                try body(child, st)
            case S_IFDIR:
                guard recursive && depth + 1 < Self.maxDepth else { continue }
                try walkDirectory(child, depth: depth + 1, body: body, onError: onError)
            default:
                break
            }
        }
    }
}
