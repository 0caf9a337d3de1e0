import Foundation
import Synchronization
import Testing

@testable import Core

/// A hub that answers fetch requests with whatever frames a script picks: a buggy or malicious
/// sender. `frames(index, attempt)` gives the payloads for chunk `index` the `attempt`-th time
/// (from 1) it is asked for; the head is answered with `head`.
struct ScriptedHub {
    let transport: InMemoryTransport
    let task: Task<Void, Never>

    init(
        broker: InMemoryBroker, head: [UInt8] = TransferFixtures.package.head.encode(),
        frames: @escaping @Sendable (_ index: Int, _ attempt: Int) -> [[UInt8]]
    ) async throws {
        transport = InMemoryTransport(broker: broker, clientID: "scripted-hub")
        try await transport.connect()
        try await transport.subscribe(Subscription.filter(forEvery: .fetch), qos: .atLeastOnce)
        let package = TransferFixtures.package
        task = Task { [transport] in
            var attempts: [Int: Int] = [:]
            for await message in transport.messages {
                guard let request = try? MessageCodec.decode(FetchRequest.self, from: message.payload),
                    let device = try? Topic(parsing: message.topic).device, let topic = try? request.replyTopic(for: device)
                else { continue }
                var payloads: [[UInt8]] = []
                if request.head == true {
                    payloads.append(
                        try! ChunkFrame(
                            kind: .head, packageId: request.packageId, index: 0, count: package.head.chunkCount, payload: head
                        ).encoded())
                }
                for index in request.chunks {
                    attempts[index, default: 0] += 1
                    payloads += frames(index, attempts[index]!)
                }
                for payload in payloads { try? await transport.publish(Message(topic: topic, payload: payload)) }
            }
        }
    }

    /// The frame of chunk `index` of `package` with `edit` applied to its bytes.
    static func frame(_ index: Int, of package: ModelPackage = TransferFixtures.package, edit: (inout [UInt8]) -> Void = { _ in })
        -> [UInt8]
    {
        var bytes = package.chunk(index).bytes
        edit(&bytes)
        return try! ChunkFrame(packageId: package.head.id, index: index, count: package.head.chunkCount, payload: bytes).encoded()
    }

    func stop() async {
        await transport.close()
        task.cancel()
    }
}

/// Bad chunks, bad heads and a silent hub: each refused with its own error, nothing unchecked
/// ever written or returned, and bounded retries ending in a clear failure.
@Suite("Chunked transfer against a bad sender", .serialized)
final class TransferHostileTests {
    let dir = try! ArtifactFixtures.temporaryDirectory()
    let package = TransferFixtures.package

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func device(
        _ broker: InMemoryBroker, clock: ManualClock = ManualClock(),
        configuration: ChunkFetcher.Configuration = TransferFixtures.configuration()
    )
        async throws -> ChunkFetcher
    {
        let transport = InMemoryTransport(broker: broker, clientID: "pi-7")
        try await transport.connect()
        return try ChunkFetcher(
            transport: transport, device: try DeviceID("pi-7"), packageId: package.head.id, directory: dir + "/p",
            verifier: TransferFixtures.verifier, configuration: configuration, clock: clock)
    }

    @Test("corrupt, truncated, oversized, foreign and garbage frames are refused, each with its own count, and asked for again")
    func badCopiesThenGoodOnes() async throws {
        let broker = InMemoryBroker()
        let other = TransferFixtures.other
        let count = package.head.chunkCount
        let chunkFile = dir + "/p/chunks/00000002"
        let ours = package.head.id
        let seenOnDiskAfterRefusal = Mutex<Bool?>(nil)
        let hub = try await ScriptedHub(broker: broker) { index, attempt in
            let good = ScriptedHub.frame(index)
            guard attempt == 1 else {
                if index == 2 { seenOnDiskAfterRefusal.withLock { $0 = FileIO.exists(chunkFile) } }
                return [good]
            }
            switch index {
            case 2: return [ScriptedHub.frame(2) { $0[10] ^= 0x40 }]
            case 4: return [ScriptedHub.frame(4) { $0.removeLast() }]
            case 6: return [ScriptedHub.frame(6) { $0.append(0) }]
            case 8: return [ScriptedHub.frame(0, of: other), good]
            case 10: return [Array("not a frame".utf8), good]
            case 12:
                let stray = try! ChunkFrame(packageId: ours, index: count + 5, count: count + 10, payload: [1, 2, 3])
                return [stray.encoded(), good]
            case 14:
                let relabelled = try! ChunkFrame(packageId: ours, index: 14, count: count, payload: other.chunk(0).bytes)
                return [relabelled.encoded()]
            default: return [good]
            }
        }
        let fetcher = try await device(broker)
        #expect(try await FetchRun(fetcher).finish() == package, "no clock advance: refused copies are asked for again at once")
        let progress = fetcher.progress
        #expect(progress.rejected == [.chunkDigestMismatch: 2, .chunkTruncated: 1, .chunkOversized: 1, .chunkIndexOutOfRange: 1])
        #expect(progress.foreignFrames == 1 && progress.malformedFrames == 1)
        #expect(progress.rerequested == 4 && progress.timeouts == 0)
        #expect(seenOnDiskAfterRefusal.withLock { $0 } == false, "a refused chunk leaves nothing on disk")
        await hub.stop()
    }

    @Test("a hub that keeps sending a corrupt chunk: after maxRejections the transfer fails, and the chunk was never written")
    func persistentCorruption() async throws {
        let broker = InMemoryBroker()
        let hub = try await ScriptedHub(broker: broker) { index, _ in
            [index == 3 ? ScriptedHub.frame(3) { $0[0] ^= 1 } : ScriptedHub.frame(index)]
        }
        let fetcher = try await device(broker, configuration: TransferFixtures.configuration(maxRejections: 3))
        let failure = await FetchRun(fetcher).failure()
        #expect(failure?.code == .chunkRefused)
        #expect((failure?.underlying as? ArtifactError)?.code == .chunkDigestMismatch)
        #expect(failure?.message.contains("chunk 3") == true, "\(failure?.message ?? "")")
        #expect(fetcher.progress.rejected == [.chunkDigestMismatch: 4], "the first copy and three more")
        #expect(!FileIO.exists(dir + "/p/chunks/00000003"))
        #expect(!fetcher.progress.isComplete)
        await hub.stop()
    }

    @Test("a head signed by an unknown key is refused every time, then the transfer fails with headRefused")
    func forgedHead() async throws {
        let broker = InMemoryBroker()
        let forged = try ArtifactFixtures.resign(package, key: ArtifactFixtures.strangerKey) {
            $0.keyId = ArtifactFixtures.strangerKey.keyId
        }
        let hub = try await ScriptedHub(broker: broker, head: forged.head.encode()) { index, _ in [ScriptedHub.frame(index)] }
        let fetcher = try await device(broker, configuration: TransferFixtures.configuration(maxRejections: 2))
        let failure = await FetchRun(fetcher).failure()
        #expect(failure?.code == .headRefused)
        #expect(fetcher.progress.rejected == [.unknownKey: 3])
        #expect(!FileIO.exists(dir + "/p/head"), "no unverified head is kept")
        await hub.stop()
    }

    @Test("a head of another package, sent under our package id, is refused")
    func headOfAnotherPackage() async throws {
        let broker = InMemoryBroker()
        let hub = try await ScriptedHub(broker: broker, head: TransferFixtures.other.head.encode()) { index, _ in
            [ScriptedHub.frame(index)]
        }
        let fetcher = try await device(broker, configuration: TransferFixtures.configuration(maxRejections: 1))
        #expect(await FetchRun(fetcher).failure()?.code == .headRefused)
        #expect(fetcher.progress.rejected == [.chunkFromOtherPackage: 2])
        await hub.stop()
    }

    @Test("a hub that does not serve the package: requests time out maxTimeouts times, then timedOut")
    func silentHub() async throws {
        let rig = try await TransferRig(catalog: InMemoryPackageCatalog([]))
        let clock = ManualClock()
        let fetcher = try rig.fetcher(
            try await rig.device("pi-7"), directory: dir + "/p", configuration: TransferFixtures.configuration(maxTimeouts: 3),
            clock: clock)
        let failure = await FetchRun(fetcher).failure(advancing: clock)
        #expect(failure?.code == .timedOut)
        #expect(failure?.message.contains("the head") == true)
        #expect(fetcher.progress.timeouts == 3 && fetcher.progress.requestsSent == 3)
        try await waitUntil("the hub refused all three") { await rig.server.statistics.refused == [.unknownPackage: 3] }
        await rig.stop()
    }
}
