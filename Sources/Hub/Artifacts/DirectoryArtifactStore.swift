import Core

/// An `ArtifactStore` in a directory: `<root>/sha256/ab/cdef...` (the first two hex digits of the
/// digest name a shard directory, the other 62 the file).
///
/// Writes go to a temporary file beside the final one, are synced and renamed into place
/// (`FileIO.writeAtomically`), so a reader or a crash never sees a partial artifact under its
/// digest. Files are read-only (0444). Reads check the digest, so a file damaged on disk is
/// reported instead of served.
public struct DirectoryArtifactStore: ArtifactStore {
    /// The root directory.
    public let root: String

    /// A store in `root`, creating the directory if needed.
    public init(root: String) throws(HubStoreError) {
        do {
            try FileIO.createDirectory(root + "/sha256", mode: 0o700)
        } catch {
            throw HubStoreError(.openFailed, "cannot create the artifact directory \(root)", underlying: error)
        }
        self.root = root
    }

    /// Where the artifact with `digest` lives.
    public func path(of digest: String) -> String {
        let hex = Array(digest)
        return "\(root)/sha256/\(String(hex[0..<2]))/\(String(hex[2...]))"
    }

    public func put(_ bytes: [UInt8]) async throws(HubStoreError) -> ArtifactReference {
        let reference = ArtifactReference(digest: PackageDigest.sha256(bytes), size: bytes.count)
        let path = path(of: reference.digest)
        if FileIO.exists(path), (try? FileIO.size(path)) == bytes.count { return reference }
        do {
            try FileIO.createDirectory(String(path.dropLast(63)), mode: 0o700)
            try FileIO.writeAtomically(bytes, to: path, mode: 0o444)
        } catch {
            throw HubStoreError(
                .ioFailed, "cannot store artifact \(reference.digest.prefix(16)) in \(root); check free space and permissions",
                underlying: error)
        }
        return reference
    }

    public func get(_ digest: String) async throws(HubStoreError) -> [UInt8] {
        let path = try checkedPath(digest)
        guard FileIO.exists(path) else {
            throw HubStoreError(.artifactMissing, "artifact \(digest.prefix(16)) is not in \(root)")
        }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.read(path)
        } catch {
            throw HubStoreError(.ioFailed, "cannot read artifact \(digest.prefix(16)) from \(root)", underlying: error)
        }
        guard PackageDigest.sha256(bytes) == digest else {
            throw HubStoreError(
                .artifactCorrupt,
                "artifact \(path) no longer matches its SHA-256: it was damaged on disk; restore it from a backup")
        }
        return bytes
    }

    public func contains(_ digest: String) async -> Bool {
        guard ArtifactReference.isDigest(digest) else { return false }
        let path = path(of: digest)
        return FileIO.exists(path) && !FileIO.isDirectory(path)
    }

    public func size(of digest: String) async throws(HubStoreError) -> Int {
        let path = try checkedPath(digest)
        guard FileIO.exists(path), !FileIO.isDirectory(path), let size = try? FileIO.size(path) else {
            throw HubStoreError(.artifactMissing, "artifact \(digest.prefix(16)) is not in \(root)")
        }
        return size
    }

    private func checkedPath(_ digest: String) throws(HubStoreError) -> String {
        guard ArtifactReference.isDigest(digest) else {
            throw HubStoreError(.invalidArgument, "'\(digest.prefix(80))' is not a SHA-256 digest (64 lowercase hex digits)")
        }
        return path(of: digest)
    }
}
