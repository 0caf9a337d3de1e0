/// Content-addressed storage of artifacts (model files, packages): bytes are stored under their
/// SHA-256 and never change once written.
///
/// Implementations: `DirectoryArtifactStore` (a directory, the default); an object store later.
public protocol ArtifactStore: Sendable {
    /// Stores `bytes` (atomically; storing the same bytes twice is a no-op) and returns their reference.
    func put(_ bytes: [UInt8]) async throws(HubStoreError) -> ArtifactReference
    /// The bytes stored under `digest`, checked against it (`artifactMissing`, `artifactCorrupt`).
    func get(_ digest: String) async throws(HubStoreError) -> [UInt8]
    /// Whether an artifact with `digest` is stored.
    func contains(_ digest: String) async -> Bool
    /// The size in bytes of the artifact with `digest` (`artifactMissing` when it is not stored).
    func size(of digest: String) async throws(HubStoreError) -> Int
}

extension ArtifactReference {
    /// Whether `text` is a SHA-256 digest in lowercase hex.
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }
}
