import Foundation
import Testing

@testable import Core

/// Chunked transfer on the in-memory broker: a hub's `ChunkServer` and a device's `ChunkFetcher`
/// through clean runs, lost and repeated deliveries, disconnects and process restarts.
@Suite("Chunked transfer", .serialized)
final class TransferTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()
    let package = TransferFixtures.package
    var chunkCount: Int { package.head.chunkCount }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    @Test("a clean transfer fetches the head, then every chunk once, and returns the verified package")
    func cleanTransfer() async throws {
        let rig = try await TransferRig()
        let run = FetchRun(try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p"))
        let fetched = try await run.finish()
        #expect(fetched == package)
        #expect(try TransferFixtures.verifier.verify(head: fetched.head, payload: fetched.payload).model.graph.nodes.count > 0)
        let progress = run.fetcher.progress
        #expect(progress.isComplete && progress.chunksReceived == chunkCount && progress.bytesReceived == package.payload.count)
        #expect(progress.chunksRequested == chunkCount, "each chunk asked for once")
        #expect(progress.requestsSent >= 1 + chunkCount / 4, "a window of 4: several requests")
        #expect(progress.rerequested == 0 && progress.duplicates == 0 && progress.timeouts == 0)
        let stats = await rig.server.statistics
        #expect(stats.headsSent == 1 && stats.chunksSent == chunkCount && stats.bytesSent == package.payload.count)
        #expect(stats.refusedTotal == 0 && stats.queued == 0)
        await rig.stop()
    }

    @Test("with the head already known (a retained manifest) only chunks are fetched")
    func knownHead() async throws {
        let rig = try await TransferRig()
        let fetcher = try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p", head: package.head.encode())
        #expect(try await FetchRun(fetcher).finish() == package)
        #expect(await rig.server.statistics.headsSent == 0)
        await rig.stop()
    }

    @Test("lost deliveries are asked for again after the timeout; the clock decides, not the wall")
    func drops() async throws {
        let gate = GatedSource(package, from: 5)
        let rig = try await TransferRig(catalog: FixedCatalog(sources: [gate]))
        let clock = ManualClock()
        let fetcher = try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p", clock: clock)
        let run = FetchRun(fetcher)
        try await waitUntil("5 chunks in, 4 held at the hub") { fetcher.progress.chunksReceived == 5 && gate.held == 4 }
        await rig.broker.dropNext(3)
        gate.open()
        // Three deliveries are lost: chunk frames, or a request for one chunk that a frame let out.
        try await waitUntil("all but three chunks in") { fetcher.progress.chunksReceived == chunkCount - 3 }
        await settle { fetcher.progress }
        #expect(!run.isEnded && fetcher.progress.timeouts == 0, "stuck until the clock moves")
        clock.advance(by: TransferFixtures.timeout)
        #expect(try await run.finish() == package)
        let progress = fetcher.progress
        #expect(progress.timeouts == 3 && progress.rerequested == 3, "each lost delivery costs one timeout")
        let sent = await rig.server.statistics.chunksSent
        #expect(sent > chunkCount && sent <= chunkCount + 3, "\(sent) chunks sent for \(chunkCount)")
        await rig.stop()
    }

    @Test("repeated deliveries are harmless: requests are served once, frames stored once")
    func duplicates() async throws {
        let rig = try await TransferRig()
        let fetcher = try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p")
        await rig.broker.duplicateNext(12)
        #expect(try await FetchRun(fetcher).finish() == package, "no clock advance needed")
        let stats = await rig.server.statistics
        #expect(stats.duplicateRequests >= 1, "a repeated request (same id) is ignored")
        #expect(stats.chunksSent == chunkCount, "so no chunk is sent twice")
        #expect(fetcher.progress.duplicates + stats.duplicateRequests >= 10, "and repeated frames are counted")
        #expect(fetcher.progress.timeouts == 0)
        await rig.stop()
    }

    @Test("a disconnect mid-transfer: outstanding chunks are asked for again at once, at most a window more")
    func disconnectMidTransfer() async throws {
        let gate = GatedSource(package, from: 10)
        let rig = try await TransferRig(catalog: FixedCatalog(sources: [gate]))
        let fetcher = try rig.fetcher(
            try await rig.device("pi-7"), directory: dir + "/p", configuration: TransferFixtures.configuration(window: 6))
        let run = FetchRun(fetcher)
        try await waitUntil("10 chunks in") { fetcher.progress.chunksReceived == 10 }
        try await waitUntil("the hub stalls") { gate.held > 0 }
        await rig.broker.disconnect("pi-7")
        try await waitUntil("the fetcher saw it") { fetcher.progress.disconnects == 1 && fetcher.progress.rerequested > 0 }
        gate.open()
        #expect(try await run.finish() == package, "completes without any timeout")
        let progress = fetcher.progress
        #expect(progress.timeouts == 0 && progress.rerequested <= 6)
        let stats = await rig.server.statistics
        #expect(
            stats.chunksSent >= chunkCount && stats.chunksSent <= chunkCount + 6, "\(stats.chunksSent) sent for \(chunkCount)")
        await rig.stop()
    }

    @Test("while the device is cut off its timeouts do not run; it finishes when the network heals")
    func partition() async throws {
        let gate = GatedSource(package, from: 8)
        let rig = try await TransferRig(catalog: FixedCatalog(sources: [gate]))
        let clock = ManualClock()
        let fetcher = try rig.fetcher(try await rig.device("pi-7"), directory: dir + "/p", clock: clock)
        let run = FetchRun(fetcher)
        try await waitUntil("8 chunks in") { fetcher.progress.chunksReceived == 8 }
        await rig.broker.partition("pi-7")
        try await waitUntil("the fetcher saw it") { fetcher.progress.disconnects == 1 }
        for _ in 0..<20 {
            clock.advance(by: TransferFixtures.timeout)
            await settle { fetcher.progress }
        }
        #expect(fetcher.progress.timeouts == 0, "no timeout counted while disconnected")
        gate.open()
        await rig.broker.heal("pi-7")
        #expect(try await run.finish() == package)
        #expect(fetcher.progress.timeouts == 0)
        await rig.stop()
    }

    @Test("after a process restart a new fetcher on the same directory fetches only the missing chunks")
    func processRestart() async throws {
        let gate = GatedSource(package, from: 10)
        let rig = try await TransferRig(catalog: FixedCatalog(sources: [gate]))
        let first = try await rig.device("pi-7", cleanStart: true)
        let fetcher = try rig.fetcher(first, directory: dir + "/p")
        let run = FetchRun(fetcher)
        try await waitUntil("10 chunks in, 4 asked for") { fetcher.progress.chunksReceived == 10 && gate.held == 4 }
        run.task.cancel()
        #expect(await run.failure()?.code == .cancelled)
        await first.close()
        // The hub finishes what the first fetcher had asked for (chunks 10-13, its window of 4);
        // nobody reads it: the clean-start session ended with the process.
        gate.open()
        try await waitUntil("the hub is idle") {
            let stats = await rig.server.statistics
            return stats.chunksSent == 14 && stats.queued == 0
        }
        // A chunk file damaged while the device was down is found and fetched again.
        let damaged = dir + "/p/chunks/00000003"
        var bytes = try FileIO.read(damaged)
        bytes[7] ^= 0xFF
        try FileIO.writeAtomically(bytes, to: damaged)

        let second = try rig.fetcher(try await rig.device("pi-7", cleanStart: true), directory: dir + "/p")
        #expect(try await FetchRun(second).finish() == package)
        let progress = second.progress
        #expect(progress.chunksResumed == 9 && progress.chunksDiscarded == 1)
        #expect(progress.chunksRequested == chunkCount - 9, "only the \(chunkCount - 9) missing chunks are asked for")
        let stats = await rig.server.statistics
        #expect(stats.headsSent == 1, "the head comes from the directory after the restart")
        #expect(stats.chunksSent - 14 == chunkCount - 9, "the hub sent only the missing chunks again")
        await rig.stop()
    }

    @Test("a directory that already holds the whole package returns it without a single request")
    func alreadyComplete() async throws {
        let rig = try await TransferRig()
        let device = try await rig.device("pi-7")
        _ = try await FetchRun(try rig.fetcher(device, directory: dir + "/p")).finish()
        let again = try rig.fetcher(try await rig.device("pi-8"), directory: dir + "/p")
        #expect(try await FetchRun(again).finish() == package)
        #expect(again.progress.requestsSent == 0 && again.progress.chunksResumed == chunkCount)
        await rig.stop()
    }

    @Test("a directory of another package, or a head for another package, is refused")
    func wrongPackage() async throws {
        let rig = try await TransferRig()
        let device = try await rig.device("pi-7")
        _ = try ChunkStore(directory: dir + "/p", head: TransferFixtures.other.head)
        let fetcher = try rig.fetcher(device, directory: dir + "/p")
        #expect(await FetchRun(fetcher).failure()?.code == .wrongPackage)
        let mismatched = try rig.fetcher(device, directory: dir + "/q", head: TransferFixtures.other.head.encode())
        #expect(await FetchRun(mismatched).failure()?.code == .wrongPackage)
        let untrusted = try ArtifactFixtures.package(key: ArtifactFixtures.strangerKey, chunkSize: 1024)
        let stranger = try rig.fetcher(device, package: untrusted, directory: dir + "/r", head: untrusted.head.encode())
        let failure = await FetchRun(stranger).failure()
        #expect(failure?.code == .headRefused && (failure?.underlying as? ArtifactError)?.code == .unknownKey)
        await rig.stop()
    }

    @Test("several devices fetch at once, two packages, each gets its own")
    func severalDevices() async throws {
        let rig = try await TransferRig(catalog: InMemoryPackageCatalog([package, TransferFixtures.other]))
        var runs: [(FetchRun, ModelPackage)] = []
        for (i, wanted) in [package, TransferFixtures.other, package, TransferFixtures.other, package].enumerated() {
            let fetcher = try rig.fetcher(try await rig.device("dev-\(i)"), package: wanted, directory: "\(dir)/d\(i)")
            runs.append((FetchRun(fetcher), wanted))
        }
        for (run, wanted) in runs { #expect(try await run.finish() == wanted) }
        let stats = await rig.server.statistics
        #expect(stats.chunksSentByPackage[package.head.id] == 3 * chunkCount)
        #expect(stats.chunksSentByPackage[TransferFixtures.other.head.id] == 2 * TransferFixtures.other.head.chunkCount)
        #expect(stats.headsSent == 5)
        await rig.stop()
    }
}
