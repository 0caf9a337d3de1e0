import Foundation
import Testing

@testable import Core

/// Chunks for transfer and the on-disk chunk store that resumes across restarts.
@Suite("Model package chunks", .serialized)
final class ArtifactChunkTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()
    let verifier = PackageVerifier(trust: ArtifactFixtures.ring)

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// A package of a larger model, in 1 KiB chunks (many of them).
    static let package: ModelPackage = try! ModelPackage.create(
        model: ArtifactFixtures.model(hidden: [256, 64], seed: 5), options: ArtifactFixtures.options(chunkSize: 1024),
        key: ArtifactFixtures.hubKey)

    @Test("chunks cover the payload exactly and reassemble in any order")
    func splitAndAssemble() throws {
        let package = Self.package
        let chunks = package.chunks()
        #expect(chunks.count == package.head.chunkCount && chunks.count > 10)
        #expect(chunks.dropLast().allSatisfy { $0.bytes.count == 1024 })
        #expect(chunks.flatMap(\.bytes) == package.payload)
        var shuffled = chunks.reversed() + [chunks[3]]
        shuffled.swapAt(0, 5)
        #expect(try package.head.assemble(shuffled) == package)
        #expect(ArtifactFixtures.code { _ = try package.head.assemble(Array(chunks.dropFirst())) } == .incomplete)
    }

    @Test("bad chunks are refused, each with its own error")
    func badChunks() throws {
        let package = Self.package
        let other = try ArtifactFixtures.package(version: "9.9.9", chunkSize: 1024)
        var wrongDigest = package.chunk(2)
        wrongDigest.bytes[100] ^= 1
        var truncated = package.chunk(2)
        truncated.bytes.removeLast()
        var oversized = package.chunk(2)
        oversized.bytes.append(0)
        var outOfRange = package.chunk(2)
        outOfRange.index = package.head.chunkCount
        var foreign = other.chunk(0)
        foreign.index = 0
        var relabelled = other.chunk(0)
        relabelled.packageId = package.head.id
        let cases: [(String, Chunk, ArtifactError.Code)] = [
            ("wrong digest", wrongDigest, .chunkDigestMismatch), ("truncated", truncated, .chunkTruncated),
            ("oversized", oversized, .chunkOversized), ("out of range", outOfRange, .chunkIndexOutOfRange),
            ("from another package", foreign, .chunkFromOtherPackage),
            ("another package's bytes under our id", relabelled, .chunkDigestMismatch),
        ]
        for (name, chunk, expected) in cases {
            #expect(ArtifactFixtures.code { try package.head.check(chunk) } == expected, "\(name)")
            #expect(ArtifactFixtures.code { _ = try package.head.assemble(package.chunks() + [chunk]) } == expected, "\(name)")
        }
    }

    @Test("the store keeps chunks across a restart, refuses bad ones without writing, and assembles a verified package")
    func resumeAfterRestart() throws {
        let package = Self.package
        let path = dir + "/resume"
        let head = try verifier.verifyHead(package.head.encode())
        var store = try ChunkStore(directory: path, head: head)
        let firstHalf = package.chunks().filter { $0.index % 2 == 0 }
        for chunk in firstHalf {
            let stored = try store.receive(chunk)
            #expect(stored)
        }
        let again = try store.receive(firstHalf[0])
        #expect(!again, "a duplicate is harmless")
        var bad = package.chunk(1)
        bad.bytes[0] ^= 0xFF
        #expect(ArtifactFixtures.code { try store.receive(bad) } == .chunkDigestMismatch)
        #expect(!FileManager.default.fileExists(atPath: path + "/chunks/00000001"), "a refused chunk leaves nothing on disk")
        #expect(ArtifactFixtures.code { _ = try store.assemble() } == .incomplete)

        // "Restart": a new instance on the same directory, from the stored head alone.
        var resumed = try ChunkStore.resume(directory: path, verifier: verifier)
        #expect(resumed.received == Set(firstHalf.map(\.index)))
        #expect(resumed.missing == package.chunks().map(\.index).filter { $0 % 2 == 1 })
        for index in resumed.missing { try resumed.receive(package.chunk(index)) }
        #expect(resumed.isComplete && resumed.receivedBytes == package.payload.count)
        let assembled = try resumed.assemble()
        #expect(assembled == package)
        #expect(try verifier.verify(assembled.encode()).modelBytes == ArtifactFixtures.model(hidden: [256, 64], seed: 5))
        try resumed.remove()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a chunk file damaged on disk is detected on reopen and on assembly, discarded, and requested again")
    func corruptChunkOnDisk() throws {
        let package = Self.package
        let path = dir + "/corrupt"
        var store = try ChunkStore(directory: path, head: package.head)
        for chunk in package.chunks() { try store.receive(chunk) }
        // Damage one chunk file and leave a stray temporary file, as a crash mid-write would.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path + "/chunks/00000004"))
        try Data([9]).write(to: URL(fileURLWithPath: path + "/chunks/00000005.tmp-1-2"))
        var reopened = try ChunkStore(directory: path, head: package.head)
        #expect(reopened.discarded == [4])
        #expect(reopened.missing == [4])
        #expect(!FileManager.default.fileExists(atPath: path + "/chunks/00000005.tmp-1-2"))
        try reopened.receive(package.chunk(4))

        // Damage after reopening: assembly re-checks every file.
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/chunks/00000007")))
        bytes[10] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/chunks/00000007"))
        #expect(ArtifactFixtures.code { _ = try reopened.assemble() } == .chunkDigestMismatch)
        #expect(reopened.missing == [7])
        try reopened.receive(package.chunk(7))
        #expect(try reopened.assemble() == package)
    }

    @Test("a store directory belongs to one package; a forged stored head is refused on resume")
    func onePackagePerDirectory() throws {
        let path = dir + "/owner"
        _ = try ChunkStore(directory: path, head: Self.package.head)
        let other = try ArtifactFixtures.package(version: "2.0.0")
        #expect(ArtifactFixtures.code { _ = try ChunkStore(directory: path, head: other.head) } == .chunkFromOtherPackage)
        let stranger = try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey)
        try Data(stranger.head.encode()).write(to: URL(fileURLWithPath: path + "/head"))
        #expect(ArtifactFixtures.code { _ = try ChunkStore.resume(directory: path, verifier: verifier) } == .unknownKey)
    }
}
