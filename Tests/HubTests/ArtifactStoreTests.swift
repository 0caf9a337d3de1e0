import Core
import Foundation
import Testing

@testable import Hub

@Suite("Artifact store")
struct ArtifactStoreTests {
    @Test("bytes round-trip under their SHA-256 in sha256/ab/cdef..., read-only; storing twice is a no-op")
    func roundTrip() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DirectoryArtifactStore(root: directory + "/artifacts")
            let bytes = Array("model bytes".utf8)
            let digest = PackageDigest.sha256(bytes)
            #expect(!(await store.contains(digest)))
            let reference = try await store.put(bytes)
            #expect(reference == ArtifactReference(digest: digest, size: bytes.count))
            let path = "\(directory)/artifacts/sha256/\(digest.prefix(2))/\(digest.dropFirst(2))"
            #expect(store.path(of: digest) == path)
            #expect(FileIO.exists(path))
            #expect(try FileIO.permissions(path) == 0o444)
            #expect(await store.contains(digest))
            #expect(try await store.size(of: digest) == bytes.count)
            #expect(try await store.get(digest) == bytes)
            #expect(try await store.put(bytes) == reference)
            #expect(
                try FileIO.listDirectory(directory + "/artifacts/sha256/" + digest.prefix(2)) == [String(digest.dropFirst(2))])
        }
    }

    @Test("a missing artifact, a malformed digest and bytes damaged on disk are reported")
    func failures() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DirectoryArtifactStore(root: directory)
            let missing = await #expect(throws: HubStoreError.self) { try await store.get(String(repeating: "a", count: 64)) }
            #expect(missing?.code == .artifactMissing)
            let malformed = await #expect(throws: HubStoreError.self) { try await store.get("../../etc/passwd") }
            #expect(malformed?.code == .invalidArgument)
            #expect(!(await store.contains("../x")))

            let reference = try await store.put(Array("original".utf8))
            let path = store.path(of: reference.digest)
            try FileIO.removeFile(path)
            try FileIO.writeAtomically(Array("tampered".utf8), to: path)
            let corrupt = await #expect(throws: HubStoreError.self) { try await store.get(reference.digest) }
            #expect(corrupt?.code == .artifactCorrupt)
        }
    }

    @Test("a write that fails at the last step leaves no file under the digest and no temporary file")
    func failedWriteLeavesNothing() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DirectoryArtifactStore(root: directory)
            let bytes = [UInt8](repeating: 7, count: 100_000)
            let digest = PackageDigest.sha256(bytes)
            let path = store.path(of: digest)
            // A non-empty directory where the file belongs: the data is written and synced, then
            // the rename into place fails.
            try FileIO.createDirectory(path + "/blocker")
            let error = await #expect(throws: HubStoreError.self) { try await store.put(bytes) }
            #expect(error?.code == .ioFailed)
            #expect(!(await store.contains(digest)))
            let shard = String(path.dropLast(63))
            #expect(try FileIO.listDirectory(shard) == [String(digest.dropFirst(2))])
            #expect(FileIO.isDirectory(path))

            try FileIO.removeTree(path)
            #expect(try await store.put(bytes).digest == digest)
            #expect(try await store.get(digest) == bytes)
        }
    }

    @Test("a temporary file left by a crash is not an artifact")
    func crashLeftovers() async throws {
        try await withTemporaryDirectory { directory in
            let store = try DirectoryArtifactStore(root: directory)
            let bytes = Array("half".utf8)
            let digest = PackageDigest.sha256(bytes)
            let path = store.path(of: digest)
            try FileIO.createDirectory(String(path.dropLast(63)))
            try FileIO.writeAtomically(Array(bytes.prefix(2)), to: path + ".tmp-1-2")
            #expect(!(await store.contains(digest)))
            await #expect(throws: HubStoreError.self) { try await store.size(of: digest) }
            #expect(try await store.put(bytes).size == 4)
            #expect(try await store.get(digest) == bytes)
        }
    }
}
