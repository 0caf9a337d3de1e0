import ArgumentParser
import Core
import Foundation
import TransportMQTT

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "device",
        abstract: "Talk to a device through the broker directly (before or without a hub).",
        subcommands: [DeviceAssign.self, DeviceAssignMany.self])
}

/// `starling device assign`: signs an assignment, publishes it retained, serves the package's
/// chunks and prints the device's update events until the update settles.
struct DeviceAssign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assign",
        abstract: "Assign a signed package to a device, serve its chunks, and follow the update until it settles.",
        discussion: "Exit status 0 when the device commits the version, 1 when it refuses, fails or rolls back, or on timeout.")

    @Option(help: "Broker address HOST:PORT.")
    var broker = "127.0.0.1:1883"
    @Option(help: "Broker user name (the password comes from STARLING_MQTT_PASSWORD).")
    var username: String?
    @Option(help: "The device id.")
    var device: String
    @Option(help: "The package file to assign (full or delta).")
    var package: String
    @Option(help: "The hub signing key file (.key) that signs the assignment.")
    var key: String
    @Flag(help: "Allow a version older than the device's (a rollback order).")
    var allowDowngrade = false
    @Option(help: "Seconds the assignment stays valid.")
    var validSeconds = 3600
    @Option(help: "Seconds to wait for the update to settle.")
    var waitSeconds = 120

    func run() async throws {
        let parts = broker.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--broker must be HOST:PORT") }
        let signer = try SigningKey.read(path: key)
        let file = try ModelPackage.parse(try ModelPackage.readFile(path: package))
        let deviceID = try DeviceID(device)
        let transport = try MQTTTransport(
            configuration: MQTTTransport.Configuration(
                host: String(parts[0]), port: port, clientID: "starling-cli-" + String(UInt32.random(in: 0...UInt32.max), radix: 16),
                username: username, password: ProcessInfo.processInfo.environment["STARLING_MQTT_PASSWORD"], cleanStart: true,
                sessionExpiry: .zero))
        try await transport.connect()
        let server = try ChunkServer(transport: transport, catalog: InMemoryPackageCatalog([file]))
        try await transport.subscribe(server.configuration.filter, qos: .atLeastOnce)
        try await transport.subscribe(Topic.events(deviceID).name, qos: .atLeastOnce)
        let (events, sink) = AsyncStream.makeStream(of: DeviceEvent.self)
        let messages = transport.messages
        let routing = Task {
            await server.serve(
                AsyncStream { continuation in
                    let forward = Task {
                        for await message in messages {
                            if message.topic == Topic.events(deviceID).name {
                                if let event = try? MessageCodec.decode(DeviceEvent.self, from: message.payload) { sink.yield(event) }
                            } else {
                                continuation.yield(message)
                            }
                        }
                        continuation.finish()
                    }
                    continuation.onTermination = { _ in forward.cancel() }
                })
        }
        let payload = try Assignment.signed(
            device: deviceID, model: try ModelName(file.manifest.name), version: file.manifest.version.description,
            packageId: file.head.id, packageSize: Int64(file.encode().count), allowDowngrade: allowDowngrade,
            time: Int64(Date().timeIntervalSince1970 * 1000), validity: Int64(validSeconds) * 1000, key: signer)
        try await transport.publish(
            Message(topic: Topic.assignment(deviceID).name, payload: payload, qos: .atLeastOnce, retain: true))
        print("assigned \(file.manifest.name) \(file.manifest.version) (package \(file.head.id.prefix(16))) to \(device)")
        let outcome = await Self.follow(events, version: file.manifest.version.description, seconds: waitSeconds)
        routing.cancel()
        await transport.close()
        guard outcome else { throw ExitCode(1) }
    }

    /// Prints events for `version` until committed (true) or refused, failed, rolled back or timed out (false).
    static func follow(_ events: AsyncStream<DeviceEvent>, version: String, seconds: Int) async -> Bool {
        await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                for await event in events {
                    let what = event.phase?.rawValue ?? event.kind.rawValue
                    print("  device: \(what)\(event.modelVersion.map { " " + $0 } ?? "")\(event.reason.map { ": " + $0 } ?? "")")
                    if event.phase == .committed && event.modelVersion == version { return true }
                    if [.failed, .rolledBack].contains(event.phase) && event.modelVersion == version { return false }
                    if event.kind == .error && event.phase == nil { return false }
                }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                if !Task.isCancelled { print("  no settled update within \(seconds) s") }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
    }
}
