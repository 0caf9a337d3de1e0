// `--transfer-mb N`: a chunked package transfer hub -> device through a local Mosquitto, timed
// end to end (request, frames, per-chunk checks, chunk files, final read-back and digests), beside
// the same chunk bytes streamed hub -> device as plain QoS 1 publishes (the transport's ceiling).
import Core
import Foundation
import Synchronization
import TransportMQTT

struct TransferBenchmark {
    var megabytes: Int
    var rounds: Int
    var chunkBytes = 256 << 10
    var window = 16

    /// An int8 MLP whose compressed package payload is about `megabytes` MB.
    func makePackage(key: SigningKey) throws -> ModelPackage {
        // Two square hidden layers; zstd keeps about 0.9 of random int8 weights.
        let width = Int((Double(megabytes) * 1e6 / 0.9).squareRoot())
        let graph = try ModelBuilder.build(.mlp(hidden: [width, width]), inputShape: [64], outputs: 10, seed: 7)
        let model = try Quantizer().quantize(Model(metadata: ModelMetadata(name: "bench"), features: nil, graph: graph))
        let options = PackageOptions(
            name: "bench", version: SemanticVersion("1.0.0")!, createdAt: "2026-11-27T00:00:00Z", chunkSize: chunkBytes,
            compressionLevel: 1)
        return try ModelPackage.create(model: try ModelFile.encode(model), options: options, key: key)
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-transfer-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let key = SigningKey.generate(name: "bench")
        let package = try makePackage(key: key)
        let packagePath = directory + "/bench.starling"
        try FileIO.writeAtomically(package.encode(), to: packagePath)
        let catalog = PackageFileCatalog()
        try catalog.add(path: packagePath)
        let verifier = PackageVerifier(trust: try TrustRing(keys: [key.publicKey]))
        let megabytes = Double(package.payload.count) / 1e6
        let chunks = package.head.chunkCount

        let port = try MosquittoProcess.freePort()
        let config = MosquittoConfiguration(
            listeners: [.loopback(port: port)], allowAnonymous: true, persistenceLocation: directory + "/data",
            logTypes: ["error"], user: ProcessInfo.processInfo.userName)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try config.render().write(toFile: "\(directory)/mosquitto.conf", atomically: true, encoding: .utf8)
        let broker = Shared(
            try MosquittoProcess.start(
                configFile: "\(directory)/mosquitto.conf", port: port, logFile: "\(directory)/mosquitto.log"))
        defer { broker.value.withLock { $0.stop() } }

        func transport(_ id: String) throws -> MQTTTransport {
            var configuration = MQTTTransport.Configuration(port: port, clientID: id, sessionExpiry: .seconds(3600))
            configuration.reconnect = ReconnectBackoff(minimum: .milliseconds(20), maximum: .milliseconds(200))
            return try MQTTTransport(configuration: configuration)
        }
        let hub = try transport("bench-hub")
        let device = try transport("bench-device")
        try await hub.connect()
        try await device.connect()
        let server = try ChunkServer(transport: hub, catalog: catalog)
        try await hub.subscribe(server.configuration.filter, qos: .atLeastOnce)
        let serving = Task { try await server.run() }

        // The device's one dispatcher: its transport's streams go to the fetcher of the round.
        let current = Shared<ChunkFetcher?>(nil)
        let rawInbox = Shared<(count: Int, done: CheckedContinuation<Void, Never>?)>((0, nil))
        let rawTopic = Topic.chunks(try DeviceID("bench-device")).name + "/raw"
        let dispatch = Task {
            for await message in device.messages {
                if message.topic == rawTopic {
                    let done = rawInbox.value.withLock { s -> CheckedContinuation<Void, Never>? in
                        s.count += 1
                        guard s.count == chunks, let done = s.done else { return nil }
                        s.done = nil
                        return done
                    }
                    done?.resume()
                } else {
                    current.value.withLock { $0 }?.receive(message)
                }
            }
        }
        let events = Task { for await event in device.events { current.value.withLock { $0 }?.receive(event) } }

        func fetcher(_ name: String) throws -> ChunkFetcher {
            let fetcher = try ChunkFetcher(
                transport: device, device: try DeviceID("bench-device"), packageId: package.head.id,
                directory: directory + "/" + name, verifier: verifier, configuration: .init(window: window))
            current.value.withLock { $0 = fetcher }
            return fetcher
        }

        print("Chunked package transfer hub -> device through Mosquitto \(Mosquitto.libraryVersion) on 127.0.0.1")
        print(
            String(
                format: "package: int8 MLP, payload %.2f MB in %d chunks of %d KiB; window %d chunks; %d rounds",
                megabytes, chunks, chunkBytes >> 10, window, rounds))
        print("")

        var transferRates: [Double] = []
        for round in 0..<rounds {
            let fetch = try fetcher("round-\(round)")
            let start = ContinuousClock.now
            let fetched: ModelPackage
            do {
                fetched = try await fetch.run()
            } catch {
                print("round \(round) failed: \(error)\nfetcher: \(fetch.progress)\nserver: \(await server.statistics)")
                print("refusals: \(await server.recentRefusals)")
                throw error
            }
            let seconds = Self.seconds(ContinuousClock.now - start)
            guard fetched.payload.count == package.payload.count else { throw TransferError(.storage, "wrong payload") }
            transferRates.append(megabytes / seconds)
        }

        // The ceiling: the same chunk frames published hub -> device, no requests, no disk, no checks.
        var rawRates: [Double] = []
        let frames = try (0..<chunks).map { index in
            try ChunkFrame(packageId: package.head.id, index: index, count: chunks, payload: package.chunk(index).bytes).encoded()
        }
        try await device.subscribe(rawTopic, qos: .atLeastOnce)
        for _ in 0..<rounds {
            rawInbox.value.withLock { $0.count = 0 }
            let start = ContinuousClock.now
            async let received: Void = withCheckedContinuation { continuation in
                let already = rawInbox.value.withLock { s -> Bool in
                    if s.count == chunks { return true }
                    s.done = continuation
                    return false
                }
                if already { continuation.resume() }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<window {
                    group.addTask {
                        for index in stride(from: lane, to: chunks, by: window) {
                            try await hub.publish(Message(topic: rawTopic, payload: frames[index]))
                        }
                    }
                }
                try await group.waitForAll()
            }
            await received
            rawRates.append(megabytes / Self.seconds(ContinuousClock.now - start))
        }

        // A broker restart once half the chunks are in.
        let fetch = try fetcher("restart")
        let sentBefore = await server.statistics.chunksSent
        let restarted = Task {
            while fetch.progress.chunksReceived < chunks / 2 { try await Task.sleep(for: .milliseconds(1)) }
            let received = fetch.progress.chunksReceived
            let sent = await server.statistics.chunksSent
            broker.value.withLock { $0.stop() }
            try await Task.sleep(for: .milliseconds(200))
            let again = try MosquittoProcess.start(
                configFile: "\(directory)/mosquitto.conf", port: port, logFile: "\(directory)/mosquitto.log")
            broker.value.withLock { $0 = again }
            return (received, sent)
        }
        let restartStart = ContinuousClock.now
        do {
            _ = try await fetch.run()
        } catch {
            print("the restart round failed: \(error)\nfetcher: \(fetch.progress)\nserver: \(await server.statistics)")
            throw error
        }
        let restartSeconds = Self.seconds(ContinuousClock.now - restartStart)
        let (receivedAtRestart, sentAtRestart) = try await restarted.value
        let sentAfter = await server.statistics.chunksSent - sentAtRestart
        let progress = fetch.progress

        func stats(_ rates: [Double]) -> (best: Double, median: Double) {
            let sorted = rates.sorted()
            return (sorted.last ?? 0, sorted.isEmpty ? 0 : sorted[sorted.count / 2])
        }
        let transfer = stats(transferRates)
        let raw = stats(rawRates)
        func row(_ name: String, _ rates: (best: Double, median: Double)) {
            let label = name.padding(toLength: 48, withPad: " ", startingAt: 0)
            print(label + String(format: "%9.1f %13.1f %14.2fx", rates.best, rates.median, rates.best / raw.best))
        }
        print("path".padding(toLength: 48, withPad: " ", startingAt: 0) + "best MB/s   median MB/s   vs raw stream")
        row("ChunkFetcher <- ChunkServer (verified, on disk)", transfer)
        row("raw QoS 1 stream of the same chunk frames", raw)
        print("")
        let roundSent = await server.statistics.chunksSent - sentBefore
        print("broker restart after \(receivedAtRestart) of \(chunks) chunks were in (\(chunks - receivedAtRestart) missing):")
        print("  the hub sent \(roundSent) chunk frames in that round for \(chunks) chunks", terminator: "")
        print(" (\(roundSent - chunks) sent twice; window \(window));")
        print("  \(sentAfter) of them after the restart (the others were already on their way and queued by the broker)")
        print("  fetcher: \(progress.disconnects) disconnect(s), \(progress.rerequested) re-requested,", terminator: "")
        print(" \(progress.duplicates) duplicate(s), \(progress.timeouts) timeout(s)")
        print(String(format: "  round time with the restart: %.2f s", restartSeconds))

        serving.cancel()
        dispatch.cancel()
        events.cancel()
        await device.close()
        await hub.close()
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

/// A value behind a lock, shared by reference between tasks.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }
}
