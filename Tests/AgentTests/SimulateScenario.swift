import Agent
import Core
import Foundation
import Synchronization
import Testing

// Shared by the in-memory unit tests (AgentTests) and the Mosquitto integration tests, which
// compile this same file: only public API of Agent and Core, and `MessageTransport`.

/// What the simulated-fleet scenario needs from a broker implementation.
struct SimulationScenarioHarness: Sendable {
    /// A new, unconnected transport for `clientID` (persistent session) carrying `will`.
    var makeTransport: @Sendable (_ clientID: String, _ will: Message?) throws -> any MessageTransport
    /// A temporary directory for the devices' stores.
    var directory: String
    /// Simulated devices.
    var devices: Int
}

/// Keys, packages and settings of the scenario.
enum SimulationFixture {
    static let hubKey = try! SigningKey(name: "hub", seed: Array(repeating: 7, count: 32))
    static let rogueKey = try! SigningKey(name: "rogue", seed: Array(repeating: 9, count: 32))
    static let profile = try! JSONDecoder().decode(
        FirmwareProfile.self,
        from: Data(
            #"""
            {"name": "sim-test", "description": "simulated devices", "architecture": "x86_64", "simd": [], "threads": 1,
             "memoryBudgetMegabytes": 64, "storageBudgetMegabytes": 64, "largestModelMegabytes": 16,
             "training": {"allowed": false, "maxSeconds": 0, "maxMemoryMegabytes": 0, "onlyWhenIdle": true, "onlyOnMainsPower": false},
             "network": {"metered": false}}
            """#.utf8))

    /// A small int8 classifier package of `digits` at `version`, signed by `key`.
    static func package(_ version: String, seed: UInt64, key: SigningKey = hubKey) -> ModelPackage {
        let graph = try! ModelBuilder.build(.mlp(hidden: [16]), inputShape: [64], outputs: 10, seed: seed)
        let model = try! Quantizer().quantize(
            Model(metadata: ModelMetadata(name: "digits", task: "classification"), features: nil, graph: graph))
        let options = PackageOptions(
            name: "digits", version: SemanticVersion(version)!, createdAt: "2026-11-27T00:00:00Z", chunkSize: 4 << 10)
        return try! ModelPackage.create(model: try! ModelFile.encode(model), options: options, key: key)
    }

    /// `package` with one payload byte flipped: its signed manifest no longer matches.
    static func damaged(_ package: ModelPackage) -> ModelPackage {
        var payload = package.payload
        payload[payload.count / 2] ^= 0xFF
        return ModelPackage(head: package.head, payload: payload)
    }

    /// An assignment of `package` to `device`, signed by `key`.
    static func assignment(_ package: ModelPackage, to device: DeviceID, key: SigningKey = hubKey) throws -> Message {
        let payload = try Assignment.signed(
            device: device, model: try ModelName("digits"), version: package.manifest.version.description,
            packageId: package.head.id, packageSize: Int64(package.encode().count),
            time: Int64(Date().timeIntervalSince1970 * 1000), validity: 3_600_000, key: key)
        return Message(topic: Topic.assignment(device).name, payload: payload, qos: .atLeastOnce, retain: true)
    }

    static func settings(directory: String) throws -> SimulationSettings {
        SimulationSettings(
            dataDirectory: directory, trust: try TrustRing(keys: [hubKey.publicKey]), profile: profile,
            model: try ModelName("digits"), version: "1.0.0", telemetryInterval: .milliseconds(500),
            behaviours: try BehaviourTable(parsing: [
                "1.0.0=accuracy:0.95,rate:40,feedback:0.5", "2.0.0=accuracy:0.6,rate:40,feedback:0.5",
            ]),
            seed: 42, trafficInterval: .milliseconds(200))
    }
}

/// What a hub would see: every device's retained status, telemetry and events.
actor FleetObserver {
    private(set) var statuses: [String: DeviceStatus] = [:]
    private(set) var telemetry: [String: [Telemetry]] = [:]
    private(set) var events: [String: [DeviceEvent]] = [:]

    static let filters = [
        Subscription.filter(forEvery: .status), Subscription.filter(forEvery: .telemetry), Subscription.filter(forEvery: .events),
    ]

    func receive(_ message: Message) {
        guard let topic = try? Topic(parsing: message.topic) else { return }
        switch topic {
        case .status(let device):
            if let status = try? MessageCodec.decode(DeviceStatus.self, from: message.payload) {
                statuses[device.rawValue] = status
            }
        case .telemetry(let device):
            if let value = try? MessageCodec.decode(Telemetry.self, from: message.payload) {
                telemetry[device.rawValue, default: []].append(value)
            }
        case .events(let device):
            if let event = try? MessageCodec.decode(DeviceEvent.self, from: message.payload) {
                events[device.rawValue, default: []].append(event)
            }
        default: break
        }
    }
}

/// Simulated devices on `harness`'s broker, with a hub in the test: every device but three gets a
/// valid assignment of 2.0.0; the first gets one signed by an unknown key, the second a package
/// whose payload was damaged, the third a package signed by an unknown key. The valid ones
/// reach 2.0.0 (store, retained status, telemetry, committed events); the others keep 1.0.0
/// and say why in their events.
func runSimulatedRollout(_ harness: SimulationScenarioHarness) async throws {
    let v2 = SimulationFixture.package("2.0.0", seed: 2)
    let damaged = SimulationFixture.damaged(SimulationFixture.package("2.1.0", seed: 3))
    let rogue = SimulationFixture.package("2.2.0", seed: 4, key: SimulationFixture.rogueKey)
    let settings = try SimulationFixture.settings(directory: harness.directory)
    let devices = try SimulatedDevice.numbered(prefix: "sim-", count: harness.devices)

    let hub = try harness.makeTransport("hub", nil)
    try await hub.connect()
    let server = try ChunkServer(transport: hub, catalog: InMemoryPackageCatalog([v2, damaged, rogue]))
    let serving = Task { try await server.run() }
    defer { serving.cancel() }
    let watcher = try harness.makeTransport("observer", nil)
    for filter in FleetObserver.filters { try await watcher.subscribe(filter, qos: .atLeastOnce) }
    try await watcher.connect()
    let observer = FleetObserver()
    let watching = Task { for await message in watcher.messages { await observer.receive(message) } }
    defer { watching.cancel() }

    let fleet = try SimulationService(
        devices: devices, settings: settings, connectRate: 1000,
        makeTransport: { device, will in try harness.makeTransport(device.id.rawValue, will) })
    await fleet.start()
    #expect(fleet.startFailures.isEmpty, "\(fleet.startFailures)")
    let traffic = Task { await fleet.runTraffic() }
    defer { traffic.cancel() }
    let ids = devices.map(\.id.rawValue)
    try await pollUntil("every device is online with 1.0.0") {
        let statuses = await observer.statuses
        return ids.allSatisfy { statuses[$0]?.state == .online && statuses[$0]?.modelVersion == "1.0.0" }
    }

    let (wrongKey, corrupt, untrusted) = (devices[0].id, devices[1].id, devices[2].id)
    try await hub.publish(try SimulationFixture.assignment(v2, to: wrongKey, key: SimulationFixture.rogueKey))
    try await hub.publish(try SimulationFixture.assignment(damaged, to: corrupt))
    try await hub.publish(try SimulationFixture.assignment(rogue, to: untrusted))
    for device in devices.dropFirst(3) { try await hub.publish(try SimulationFixture.assignment(v2, to: device.id)) }

    let updated = Array(ids.dropFirst(3))
    try await pollUntil("every validly assigned device committed 2.0.0 and says so in its retained status") {
        let statuses = await observer.statuses
        let events = await observer.events
        return updated.allSatisfy { id in
            statuses[id]?.modelVersion == "2.0.0"
                && events[id, default: []].contains { $0.phase == .committed && $0.modelVersion == "2.0.0" }
        }
    }
    try await pollUntil("the three bad assignments are refused or failed") {
        let events = await observer.events
        return events[wrongKey.rawValue, default: []].contains { $0.kind == .error && $0.error == .verificationFailed }
            && events[corrupt.rawValue, default: []].contains { $0.phase == .failed && $0.modelVersion == "2.1.0" }
            && events[untrusted.rawValue, default: []].contains { $0.phase == .failed && $0.modelVersion == "2.2.0" }
    }
    try await pollUntil("telemetry of 2.0.0 arrives from every updated device") {
        let telemetry = await observer.telemetry
        return updated.allSatisfy { id in telemetry[id, default: []].contains { $0.modelVersion == "2.0.0" && $0.predictions > 0 }
        }
    }

    let agents = Dictionary(uniqueKeysWithValues: fleet.started.map { ($0.device.id.rawValue, $0) })
    for id in updated {
        #expect(agents[id]?.snapshot.version == "2.0.0")
        #expect(try await agents[id]?.store.activeModel(name: "digits")?.version == "2.0.0")
    }
    for device in [wrongKey, corrupt, untrusted] {
        #expect(agents[device.rawValue]?.snapshot.version == "1.0.0")
        #expect(try await agents[device.rawValue]?.store.activeModel(name: "digits")?.version == "1.0.0")
    }
    #expect(agents[wrongKey.rawValue]?.snapshot.refused == 1)
    #expect(agents[corrupt.rawValue]?.snapshot.failed == true)
    #expect(agents[untrusted.rawValue]?.snapshot.failed == true)
    let statuses = await observer.statuses
    for device in [wrongKey, corrupt, untrusted] { #expect(statuses[device.rawValue]?.modelVersion == "1.0.0") }
    let telemetry = await observer.telemetry
    #expect(telemetry.values.contains { $0.contains { $0.feedbackCount > 0 && $0.feedbackAccuracy != nil } })

    let progress = fleet.progress()
    #expect(progress.versions["2.0.0"] == updated.count)
    #expect(progress.rollouts["2.0.0"]?.committed == updated.count)

    traffic.cancel()
    await traffic.value
    await fleet.stop()
    try await pollUntil("every device announced offline") {
        let statuses = await observer.statuses
        return ids.allSatisfy { statuses[$0]?.state == .offline }
    }
    await watcher.close()
    await hub.close()
}
