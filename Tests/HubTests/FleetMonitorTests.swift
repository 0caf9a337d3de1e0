import Core
import Testing

@testable import Hub

@Suite("Fleet monitor")
struct FleetMonitorTests {
    static func status(_ state: DeviceStatus.State, time: Int64, model: String? = nil, reason: String? = nil) -> DeviceStatus {
        DeviceStatus(
            id: "status-\(time)", time: time, state: state, agentVersion: "0.3.0", firmwareProfile: "raspberry-pi-4",
            modelName: model.map { ModelName(unchecked: $0) }, modelVersion: model == nil ? nil : "1.2.0", reason: reason)
    }

    static func telemetry(time: Int64, errorRate: Double) -> Telemetry {
        Telemetry(
            id: "telemetry-\(time)", time: time, windowMs: 60_000, modelName: ModelName(unchecked: "digits"),
            modelVersion: "1.3.0", predictions: 1200, errorRate: errorRate, latencyP50Ms: 1.5, latencyP95Ms: 4.25,
            feedbackCount: 80, feedbackAccuracy: 0.875, cpuPercent: 12.5, rssBytes: 48_234_496, diskUsedBytes: 73_400_320)
    }

    /// Polls `condition` a bounded number of times, yielding in between (no wall-clock limit).
    static func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<2000 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    @Test("retained status, last will and telemetry on the in-memory broker; unknown and malformed are counted")
    func liveStatus() async throws {
        try await FleetFixture.with { f in
            try await f.fleet.enroll(device: "pi-7", profile: "raspberry-pi-4", by: HubFixture.alice)
            let broker = InMemoryBroker()
            // The device connects with its will and publishes online (retained) before the hub is up.
            let will = try Topic.status(DeviceID("pi-7")).message(Self.status(.offline, time: 1000, reason: "connection lost"))
            let device = InMemoryTransport(broker: broker, clientID: "pi-7", options: .init(will: will))
            try await device.connect()
            try await device.publish(
                try Topic.status(DeviceID("pi-7")).message(Self.status(.online, time: 1001, model: "digits")))

            let hubTransport = InMemoryTransport(broker: broker, clientID: "hub-1")
            try await hubTransport.connect()
            let monitor = FleetMonitor(transport: hubTransport, store: f.store, now: { f.hub.clock.now() })
            try await monitor.start()
            let running = Task { await monitor.run() }
            defer { running.cancel() }

            #expect(await Self.eventually { await monitor.status(of: "pi-7")?.presence == .online })
            var live = try #require(await monitor.status(of: "pi-7"))
            #expect(live.agentVersion == "0.3.0" && live.modelName == "digits" && live.modelVersion == "1.2.0")
            #expect(live.lastSeen == 1001)  // rebuilt from the retained status: its own time
            #expect(live.health() == .unknown)

            try await device.publish(try Topic.telemetry(DeviceID("pi-7")).message(Self.telemetry(time: 2000, errorRate: 0.2)))
            #expect(await Self.eventually { await monitor.status(of: "pi-7")?.telemetry != nil })
            live = try #require(await monitor.status(of: "pi-7"))
            #expect(live.telemetry?.errorRate == 0.2 && live.telemetry?.latencyP95Ms == 4.25)
            #expect(live.telemetry?.feedbackAccuracy == 0.875 && live.modelVersion == "1.3.0")
            #expect(live.health() == .degraded)
            #expect(live.lastSeen! > 1_800_000_000_000)  // a live message: the hub clock

            // Unknown devices and malformed payloads are counted, never applied.
            let stranger = InMemoryTransport(broker: broker, clientID: "stranger")
            try await stranger.connect()
            try await stranger.publish(try Topic.status(DeviceID("stranger")).message(Self.status(.online, time: 5)))
            try await device.publish(Message(topic: Topic.telemetry(DeviceID("pi-7")).name, payload: Array("{nope".utf8)))
            try await device.publish(Message(topic: "starling/v1/devices/pi-7/telemetry", payload: Array(#"{"v":1}"#.utf8)))
            #expect(
                await Self.eventually {
                    let counters = await monitor.counters
                    return counters.unknownDevice == 1 && counters.malformed == 2
                })
            #expect(await monitor.status(of: "stranger") == nil)

            // The connection drops: the broker publishes the will.
            await broker.disconnect("pi-7")
            #expect(await Self.eventually { await monitor.status(of: "pi-7")?.presence == .offline })
            live = try #require(await monitor.status(of: "pi-7"))
            #expect(live.offlineReason == "connection lost" && live.health() == .offline)

            // A restarted hub shows the last known state from the store, telemetry included,
            // once the monitor has flushed (as it does every interval and when `run()` ends).
            await monitor.flush()
            let restarted = FleetMonitor(transport: nil, store: f.store, now: { f.hub.clock.now() })
            try await restarted.restore()
            let restored = try #require(await restarted.status(of: "pi-7"))
            #expect(restored == live)
            await device.close()
            await stranger.close()
            await hubTransport.close()
        }
    }

    @Test("a decommissioned device's messages are unknown; handle never throws on junk topics")
    func unknownAndJunk() async throws {
        try await FleetFixture.with { f in
            try await f.fleet.enroll(device: "pi-7", profile: "raspberry-pi-4", by: HubFixture.alice)
            try await f.fleet.decommission(device: "pi-7", by: HubFixture.alice)
            let monitor = FleetMonitor(transport: nil, store: f.store, now: { f.hub.clock.now() })
            let online = try Topic.status(DeviceID("pi-7")).message(Self.status(.online, time: 1))
            #expect(await monitor.handle(online) == .unknownDevice)
            #expect(await monitor.handle(Message(topic: "not/starling", payload: [1, 2])) == .malformed)
            #expect(await monitor.handle(Message(topic: "starling/v1/devices/pi-7/events", payload: [])) == .ignored)
            #expect(await monitor.counters == .init(received: 3, applied: 0, unknownDevice: 1, malformed: 1, ignored: 1))
        }
    }

    // MARK: - Write-behind

    @Test("write-behind: messages change memory only; one flush writes every changed status; a restart restores it")
    func flushPersists() async throws {
        try await FleetFixture.with { f in
            for device in ["pi-1", "pi-2", "pi-3"] {
                try await f.fleet.enroll(device: device, profile: "raspberry-pi-4", by: HubFixture.alice)
            }
            let monitor = FleetMonitor(transport: nil, store: f.store, now: { f.hub.clock.now() })
            for (index, device) in ["pi-1", "pi-2", "pi-1"].enumerated() {
                let telemetry = Self.telemetry(time: 2000 + Int64(index), errorRate: 0.01 * Double(index))
                #expect(await monitor.handle(try Topic.telemetry(DeviceID(device)).message(telemetry)) == .applied)
            }
            #expect(try await f.store.liveStatuses().isEmpty)
            #expect(await monitor.pendingCount == 2)

            await monitor.flush()
            let saved = try await f.store.liveStatuses()
            #expect(saved.map(\.device) == ["pi-1", "pi-2"])
            #expect(saved.first?.telemetry?.errorRate == 0.02)  // the newest of pi-1's two messages
            var counters = await monitor.counters
            #expect(counters.received == 3 && counters.applied == 3 && counters.flushed == 2 && counters.flushes == 1)
            #expect(await monitor.pendingCount == 0)

            // Nothing changed: nothing to write. One change: one row.
            await monitor.flush()
            #expect(await monitor.counters.flushes == 1)
            await monitor.handle(try Topic.status(DeviceID("pi-3")).message(Self.status(.online, time: 3000, model: "digits")))
            await monitor.flush()
            counters = await monitor.counters
            #expect(counters.flushed == 3 && counters.flushes == 2 && counters.saveFailures == 0)

            let restarted = FleetMonitor(transport: nil, store: f.store, now: { f.hub.clock.now() })
            try await restarted.restore()
            #expect(await restarted.allStatuses() == monitor.allStatuses())
        }
    }

    @Test("run() flushes when its stream ends: every device's last message is in the store, nothing lost")
    func shutdownFlush() async throws {
        try await FleetFixture.with { f in
            let devices = (0..<20).map { "dev-\($0)" }
            for device in devices { try await f.fleet.enroll(device: device, profile: "raspberry-pi-4", by: HubFixture.alice) }
            let broker = InMemoryBroker()
            let hubTransport = InMemoryTransport(broker: broker, clientID: "hub-1")
            try await hubTransport.connect()
            // An interval no test waits for: only the shutdown flush writes.
            let monitor = FleetMonitor(
                transport: hubTransport, store: f.store, now: { f.hub.clock.now() }, flushInterval: .seconds(3600))
            try await monitor.start()
            let running = Task { await monitor.run() }

            let sender = InMemoryTransport(broker: broker, clientID: "sender")
            try await sender.connect()
            let rounds = 10
            for round in 0..<rounds {
                for (index, device) in devices.enumerated() {
                    let telemetry = Self.telemetry(time: Int64(10_000 * round + index), errorRate: Double(round) / 100)
                    try await sender.publish(try Topic.telemetry(DeviceID(device)).message(telemetry))
                }
            }
            #expect(await Self.eventually { await monitor.counters.received == rounds * devices.count })
            #expect(try await f.store.liveStatuses().isEmpty)

            await hubTransport.close()
            await running.value
            let counters = await monitor.counters
            #expect(counters.received == 200 && counters.applied == 200 && counters.flushed == 20 && counters.flushes == 1)
            let saved = try await f.store.liveStatuses()
            #expect(saved.count == devices.count)
            #expect(saved.allSatisfy { $0.telemetry?.errorRate == 0.09 })
            #expect(saved == (await monitor.allStatuses()))
            await sender.close()
        }
    }

    @Test("the monitor's counters are in the hub's /metrics text")
    func metrics() async throws {
        try await FleetFixture.with { f in
            try await f.fleet.enroll(device: "pi-7", profile: "raspberry-pi-4", by: HubFixture.alice)
            let metrics = HubMetrics()
            let monitor = FleetMonitor(transport: nil, store: f.store, now: { f.hub.clock.now() }, metrics: metrics.fleet)
            await monitor.handle(try Topic.telemetry(DeviceID("pi-7")).message(Self.telemetry(time: 1, errorRate: 0)))
            await monitor.handle(try Topic.telemetry(DeviceID("pi-8")).message(Self.telemetry(time: 2, errorRate: 0)))
            await monitor.handle(Message(topic: "starling/v1/devices/pi-7/telemetry", payload: Array("{".utf8)))
            await monitor.flush()
            let text = String(decoding: metrics.exposition(), as: UTF8.self)
            for line in [
                "starling_hub_fleet_messages_received_total 3",
                #"starling_hub_fleet_messages_total{outcome="applied"} 1"#,
                #"starling_hub_fleet_messages_total{outcome="unknown_device"} 1"#,
                #"starling_hub_fleet_messages_total{outcome="malformed"} 1"#,
                "starling_hub_fleet_statuses_flushed_total 1",
                "starling_hub_fleet_flushes_total 1",
                "starling_hub_fleet_flush_failures_total 0",
                "starling_hub_fleet_statuses_pending 0.0",
            ] {
                #expect(text.contains(line + "\n"), "missing: \(line)")
            }
        }
    }
}
