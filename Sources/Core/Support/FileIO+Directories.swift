#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension FileIO {
    /// True when something exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// True when `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The permission bits of `path` (e.g. `0o600`).
    public static func permissions(_ path: String) throws(ModelError) -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw error("cannot stat '\(path)'") }
        return Int(info.st_mode) & 0o7777
    }

    /// Creates `path` and any missing parents with permissions `mode` (less the umask).
    public static func createDirectory(_ path: String, mode: Int = 0o755) throws(ModelError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if !isDirectory(prefix) {
                guard mkdir(prefix, mode_t(mode)) == 0 || errno == EEXIST else {
                    throw error("cannot create directory '\(prefix)'")
                }
            }
            prefix += "/"
        }
        guard isDirectory(path) else { throw error("'\(path)' is not a directory") }
    }

    /// The names in directory `path` (without `.` and `..`), sorted.
    public static func listDirectory(_ path: String) throws(ModelError) -> [String] {
        guard let dir = opendir(path) else { throw error("cannot list directory '\(path)'") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes the file at `path`; a missing file is not an error.
    public static func removeFile(_ path: String) throws(ModelError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw error("cannot remove '\(path)'") }
    }

    /// Removes `path` and everything under it (no symbolic links are followed); a missing path
    /// is not an error.
    public static func removeTree(_ path: String) throws(ModelError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw error("cannot stat '\(path)'")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            guard rmdir(path) == 0 || errno == ENOENT else { throw error("cannot remove directory '\(path)'") }
        } else {
            try removeFile(path)
        }
    }
}
