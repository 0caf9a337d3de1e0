import ArgumentParser
import Core
import Foundation
import Synchronization
import TransportMQTT

/// `starling device assign-many`: the same package to many devices at once (a simulated fleet,
/// a bench): signs one assignment per device, publishes them retained, serves the chunks once
/// for all, and follows the devices' events until every device settled.
struct DeviceAssignMany: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign-many",
        abstract: "Assign a signed package to many devices, serve its chunks, and follow until every device settles.",
        discussion: """
            Devices are --prefix and a number from 1 to --count, zero-padded to 4 digits (more past 9999), as \
            `starling-agent simulate` names them, or the ids in --devices-file (one per line). Prints one progress line \
            per second; the time is from the first assignment published to the last commit. Exit status 0 when every \
            device committed the version.
            """)

    @Option(help: "Broker address HOST:PORT.")
    var broker = "127.0.0.1:1883"
    @Option(help: "Broker user name (the password comes from STARLING_MQTT_PASSWORD).")
    var username: String?
    @Option(help: "Device id prefix (with --count).")
    var prefix = "sim-"
    @Option(help: "Number of devices (with --prefix).")
    var count: Int?
    @Option(help: "File of device ids, one per line.")
    var devicesFile: String?
    @Option(help: "The package file to assign (full or delta).")
    var package: String
    @Option(help: "The hub signing key file (.key) that signs the assignments.")
    var key: String
    @Flag(help: "Allow a version older than the devices' (a rollback order).")
    var allowDowngrade = false
    @Option(help: "Seconds the assignments stay valid.")
    var validSeconds = 3600
    @Option(help: "Seconds to wait for every device to settle.")
    var waitSeconds = 600
    @Flag(help: "Print the result as one JSON line.")
    var json = false

    func run() async throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--broker must be HOST:PORT") }
        let devices = try deviceIDs()
        let signer = try SigningKey.read(path: key)
        let file = try ModelPackage.parse(try ModelPackage.readFile(path: package))
        let version = file.manifest.version.description
        let model = try ModelName(file.manifest.name)
        let size = Int64(file.encode().count)
        let transport = try MQTTTransport(
            configuration: MQTTTransport.Configuration(
                host: String(parts[0]), port: port,
                clientID: "starling-cli-" + String(UInt32.random(in: 0...UInt32.max), radix: 16),
                username: username, password: ProcessInfo.processInfo.environment["STARLING_MQTT_PASSWORD"], cleanStart: true,
                sessionExpiry: .zero, inFlightWindow: 1000))
        try await transport.connect()
        let server = try ChunkServer(transport: transport, catalog: InMemoryPackageCatalog([file]))
        try await transport.subscribe(server.configuration.filter, qos: .atLeastOnce)
        try await transport.subscribe(Subscription.filter(forEvery: .events), qos: .atLeastOnce)
        let tracker = RolloutTracker(devices: devices.map(\.rawValue), version: version)
        let messages = transport.messages
        let routing = Task {
            await server.serve(
                AsyncStream { continuation in
                    let forward = Task {
                        for await message in messages {
                            if case .events(let device)? = try? Topic(parsing: message.topic) {
                                if let event = try? MessageCodec.decode(DeviceEvent.self, from: message.payload) {
                                    tracker.record(event, from: device.rawValue)
                                }
                            } else {
                                continuation.yield(message)
                            }
                        }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in forward.cancel() }
                })
        }
        let began = ContinuousClock.now
        let time = Int64(Date().timeIntervalSince1970 * 1000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (position, device) in devices.enumerated() {
                if position >= 64 { try await group.next() }
                group.addTask {
                    let payload = try Assignment.signed(
                        device: device, model: model, version: version, packageId: file.head.id, packageSize: size,
                        allowDowngrade: allowDowngrade, time: time, validity: Int64(validSeconds) * 1000, key: signer)
                    try await transport.publish(
                        Message(topic: Topic.assignment(device).name, payload: payload, qos: .atLeastOnce, retain: true))
                }
            }
            try await group.waitForAll()
        }
        let published = ContinuousClock.now - began
        print("assigned \(model) \(version) (package \(file.head.id.prefix(16)), \(size) bytes) to \(devices.count) devices")
        fflush(nil)
        let deadline = began + .seconds(waitSeconds)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .seconds(1))
            let state = tracker.state
            print("\(Int(Self.seconds(ContinuousClock.now - began)))s \(state.line)")
            fflush(nil)
            if state.settled == devices.count { break }
        }
        let state = tracker.state
        let statistics = await server.statistics
        routing.cancel()
        await transport.close()
        let seconds = state.lastCommit.map { Self.seconds($0 - began) }
        let summary = Summary(
            devices: devices.count, committed: state.committed, failed: state.failed, refused: state.refused,
            seconds: seconds, publishSeconds: Self.seconds(published), chunksSent: statistics.chunksSent,
            headsSent: statistics.headsSent, bytesSent: statistics.bytesSent, packageBytes: size)
        print(
            "committed \(state.committed)/\(devices.count), failed \(state.failed), refused \(state.refused)"
                + (seconds.map { String(format: ", last commit %.2f s after the first assignment", $0) } ?? ""))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        }
        guard state.committed == devices.count else { throw ExitCode(1) }
    }

    private func deviceIDs() throws -> [DeviceID] {
        if let devicesFile {
            let text = String(decoding: try FileIO.read(devicesFile), as: UTF8.self)
            let ids = try text.split(whereSeparator: \.isNewline).map { try DeviceID(String($0)) }
            guard !ids.isEmpty else { throw ValidationError("--devices-file: no device ids in '\(devicesFile)'") }
            return ids
        }
        guard let count, count >= 1 else { throw ValidationError("give --count N (with --prefix) or --devices-file") }
        let width = max(4, String(count).count)
        return try (1...count).map { number in
            let digits = String(number)
            return try DeviceID(prefix + String(repeating: "0", count: max(0, width - digits.count)) + digits)
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    private struct Summary: Encodable {
        var devices: Int
        var committed: Int
        var failed: Int
        var refused: Int
        var seconds: Double?
        var publishSeconds: Double
        var chunksSent: Int
        var headsSent: Int
        var bytesSent: Int
        var packageBytes: Int64
    }
}

/// Where each device of a rollout stands, from its events.
final class RolloutTracker: Sendable {
    /// Counts over the devices.
    struct State {
        var downloading = 0
        var committed = 0
        var failed = 0
        var refused = 0
        var lastCommit: ContinuousClock.Instant?
        var settled: Int { committed + failed + refused }
        var line: String {
            "downloading \(downloading) committed \(committed) failed \(failed) refused \(refused)"
        }
    }

    private enum Phase { case waiting, downloading, committed, failed, refused }

    private let version: String
    private let phases: Mutex<[String: Phase]>
    private let lastCommit = Mutex<ContinuousClock.Instant?>(nil)

    init(devices: [String], version: String) {
        self.version = version
        phases = Mutex(Dictionary(uniqueKeysWithValues: devices.map { ($0, .waiting) }))
    }

    /// Applies an event of `device` (events of other devices or versions are ignored).
    func record(_ event: DeviceEvent, from device: String) {
        let next: Phase?
        if event.kind == .error && event.phase == nil {
            next = .refused
        } else if event.modelVersion != version {
            next = nil
        } else {
            switch event.phase {
            case .committed?: next = .committed
            case .failed?, .rolledBack?: next = .failed
            case .downloading?, .verifying?, .staged?, .activating?, .probation?, .rollingBack?: next = .downloading
            default: next = nil
            }
        }
        guard let next else { return }
        let changed = phases.withLock { all -> Bool in
            guard let current = all[device], current != .committed else { return false }
            all[device] = next
            return true
        }
        if changed && next == .committed { lastCommit.withLock { $0 = ContinuousClock.now } }
    }

    var state: State {
        var state = State()
        for phase in phases.withLock({ Array($0.values) }) {
            switch phase {
            case .waiting: break
            case .downloading: state.downloading += 1
            case .committed: state.committed += 1
            case .failed: state.failed += 1
            case .refused: state.refused += 1
            }
        }
        state.lastCommit = lastCommit.withLock { $0 }
        return state
    }
}
