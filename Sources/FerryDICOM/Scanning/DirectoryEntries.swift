import Glibc

/// The names in a directory, without "." and "..", unsorted; nil (with `errno` set) when it
/// cannot be opened.
public enum DirectoryEntries {
    public static func names(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        return names(of: dir)
    }

    /// The names in an open directory stream (read to its end).
    public static func names(of dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            // The name is read in place, up to its NUL: glibc's records are d_reclen bytes
            // long, often shorter than `dirent`, so copying `d_name` reads past the record
            // (AddressSanitizer found it at the end of readdir's buffer).
            let name = String(
                cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Where `d_name` starts in a `dirent` (a stored field, so never nil; 19 is glibc's offset).
    private static let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
}
