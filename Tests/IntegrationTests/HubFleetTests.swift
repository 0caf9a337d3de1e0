import Agent
import Core
import Foundation
import Hub
import Testing

@testable import TransportMQTT

/// Fleet enrolment against a real Mosquitto: the hub writes the broker's password and ACL files
/// and sends SIGHUP to the pid in a pid file; devices connect with their bundle's credentials.
@Suite("hub fleet: enrolment, broker accounts, live status", .serialized)
struct HubFleetTests {
    /// The broker starts with password and ACL files (a placeholder account) that the hub then owns.
    static let options = TestBroker.Options(anonymous: false, accounts: ["placeholder": "unused"], acl: MosquittoACL())

    /// A hub on a temporary directory whose fleet manages `broker`'s files.
    static func withFleet(
        _ broker: TestBroker, _ body: (FleetService, String, String) async throws -> Void
    ) async throws {
        let directory = broker.directory + "/hub"
        let pidFile = broker.directory + "/mosquitto.pid"
        try FileIO.writeAtomically(Array("\(try #require(broker.pid))\n".utf8), to: pidFile)
        let hub = try await HubServices.open(HubConfiguration(dataDirectory: directory))
        defer { hub.close() }
        var files = BrokerFiles(dataDirectory: directory)
        files.passwordFile = broker.passwordFile
        files.aclFile = broker.aclFile
        let fleet = try FleetService.open(
            hub: hub, files: files, reload: .pidFile(pidFile),
            bundleSettings: BundleSettings(
                brokerHost: "127.0.0.1", brokerPort: broker.port, caFile: nil, configDirectory: directory + "/bundles/dev-a"))
        try await body(fleet, try FleetService.hubPassword(path: files.hubPasswordFile), directory)
    }

    static func connectCode(_ broker: TestBroker, _ clientID: String, user: String, password: String, will: Message? = nil)
        async throws -> (MQTTTransport, TransportError.Code?)
    {
        var configuration = broker.clientConfiguration(clientID, username: user, password: password)
        configuration.will = will
        let transport = try broker.transport(configuration)
        let code = await errorCode { () async throws(TransportError) in try await transport.connect() }
        return (transport, code)
    }

    /// Connects, retrying while the broker has not applied the reload yet.
    static func connect(_ broker: TestBroker, _ clientID: String, user: String, password: String, will: Message? = nil)
        async throws -> MQTTTransport
    {
        var connected: MQTTTransport?
        let ok = try await eventually {
            let (transport, code) = try await connectCode(broker, clientID, user: user, password: password, will: will)
            if code == nil { connected = transport } else { await transport.close() }
            return code == nil
        }
        #expect(ok, "\(user) could not connect after enrolment")
        return try #require(connected)
    }

    @Test("enrolled credentials connect; a device cannot publish on another's topics; decommissioned cannot connect")
    func enrolAndDecommission() async throws {
        try await withBroker(Self.options) { broker in
            try await Self.withFleet(broker) { fleet, _, directory in
                let a = try await fleet.enroll(
                    device: "dev-a", labels: ["site": "north"], profile: "raspberry-pi-4", by: .localCommandLine)
                let b = try await fleet.enroll(device: "dev-b", profile: "raspberry-pi-4", by: .localCommandLine)

                // The bundle is a configuration the agent accepts as is.
                try a.write(to: directory + "/bundles/dev-a")
                let agent = try AgentConfiguration.load(file: directory + "/bundles/dev-a/agent.json")
                #expect(agent.deviceID == "dev-a" && agent.mqtt.username == "dev-a" && agent.mqtt.port == broker.port)

                let deviceA = try await Self.connect(broker, "dev-a", user: "dev-a", password: a.password)
                let deviceB = try await Self.connect(broker, "dev-b", user: "dev-b", password: b.password)
                let forged = await errorCode { () async throws(TransportError) in
                    try await deviceB.publish(Message(topic: "starling/v1/devices/dev-a/telemetry", payload: Array("x".utf8)))
                }
                #expect(forged == .notAuthorized)
                let own = await errorCode { () async throws(TransportError) in
                    try await deviceA.publish(Message(topic: "starling/v1/devices/dev-a/telemetry", payload: Array("x".utf8)))
                }
                #expect(own == nil)
                // A's password does not open B's account.
                let (_, crossed) = try await Self.connectCode(broker, "dev-b-2", user: "dev-b", password: a.password)
                #expect(crossed == .notAuthorized)

                try await fleet.decommission(device: "dev-b", by: .localCommandLine)
                await deviceB.close()
                let refused = try await eventually {
                    let (transport, code) = try await Self.connectCode(broker, "dev-b", user: "dev-b", password: b.password)
                    await transport.close()
                    return code == .notAuthorized
                }
                #expect(refused, "a decommissioned device can no longer connect")
            }
        }
    }

    @Test("retained status and last will of an enrolled device appear in FleetMonitor")
    func liveStatus() async throws {
        try await withBroker(Self.options) { broker in
            try await Self.withFleet(broker) { fleet, hubPassword, _ in
                let a = try await fleet.enroll(device: "dev-a", profile: "raspberry-pi-4", by: .localCommandLine)
                let will = try Topic.status(DeviceID("dev-a")).message(
                    DeviceStatus(
                        id: "will-1", time: 1, state: .offline, agentVersion: "0.3.0", firmwareProfile: "raspberry-pi-4",
                        reason: "connection lost"))
                let device = try await Self.connect(broker, "dev-a", user: "dev-a", password: a.password, will: will)
                try await device.publish(
                    try Topic.status(DeviceID("dev-a")).message(
                        DeviceStatus(
                            id: "status-1", time: 2, state: .online, agentVersion: "0.3.0", firmwareProfile: "raspberry-pi-4",
                            modelName: ModelName("digits"), modelVersion: "1.2.0")))

                // The hub comes up after the device: the retained status tells it the device is online.
                let hubTransport = try await Self.connect(broker, "hub-1", user: "hub", password: hubPassword)
                let monitor = FleetMonitor(
                    transport: hubTransport, store: fleet.store, now: { Int64(Date().timeIntervalSince1970 * 1000) })
                try await monitor.start()
                let running = Task { await monitor.run() }
                defer { running.cancel() }
                #expect(await eventually { await monitor.status(of: "dev-a")?.presence == .online })
                let online = try #require(await monitor.status(of: "dev-a"))
                #expect(online.modelName == "digits" && online.modelVersion == "1.2.0" && online.agentVersion == "0.3.0")

                device.client.simulateConnectionLoss()
                #expect(await eventually { await monitor.status(of: "dev-a")?.presence == .offline })
                #expect(await monitor.status(of: "dev-a")?.offlineReason == "connection lost")
                #expect(await monitor.counters.malformed == 0)
            }
        }
    }
}
