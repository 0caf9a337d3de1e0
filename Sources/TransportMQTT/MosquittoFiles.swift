import Core

/// Reading and writing the generated files: atomically, so the broker never reads half a file
/// when it reloads, and private by default (the password file holds hashes).
extension MosquittoPasswordFile {
    /// Loads a password file.
    public init(contentsOf path: String) throws(MosquittoError) {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path)
        } catch {
            throw MosquittoError(.io, "cannot read the password file '\(path)': \(error)")
        }
        try self.init(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Writes the file atomically with `mode` (0600: readable by the broker's user only).
    public func write(to path: String, mode: Int = 0o600) throws(MosquittoError) {
        try writeGenerated(render(), to: path, mode: mode)
    }
}

extension MosquittoACL {
    /// Writes the ACL atomically with `mode`.
    public func write(to path: String, mode: Int = 0o600) throws(MosquittoError) {
        try writeGenerated(try render(), to: path, mode: mode)
    }
}

extension MosquittoConfiguration {
    /// Writes `mosquitto.conf` atomically with `mode`.
    public func write(to path: String, mode: Int = 0o644) throws(MosquittoError) {
        try writeGenerated(try render(), to: path, mode: mode)
    }
}

private func writeGenerated(_ text: String, to path: String, mode: Int) throws(MosquittoError) {
    do {
        try FileIO.writeAtomically(Array(text.utf8), to: path, mode: mode)
    } catch {
        throw MosquittoError(.io, "cannot write '\(path)': \(error)")
    }
}
