import Core
import Foundation
import Hub
import TransportMQTT

/// One benchmark process: a temporary directory, a hub database with the enrolled devices, and
/// for each side a fresh broker, the publishers, the subscriber under test, and its counts.
struct IngestBenchmark {
    let options: Options
    let directory: String
    let database: HubStore
    let store: SQLiteHubStore
    let executable: String

    init(options: Options) async throws {
        self.options = options
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-hub-ingest-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        database = try await HubStore.open(path: directory + "/hub.sqlite")
        store = SQLiteHubStore(database)
        executable = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let change = ChangeContext(subject: "bench", time: Self.now())
        // What `FleetService.enroll` stores, without the broker files (the broker here is anonymous).
        let hash = "$7$101$AAAAAAAAAAAAAAAA$" + String(repeating: "A", count: 86)
        for index in 0..<options.devices {
            let device = Device(
                id: Self.deviceID(index), labels: ["site": "bench"], profile: "x86-64-gateway", state: .enrolled,
                enrolledAt: change.time, enrolledBy: change.subject)
            try await store.enrollDevice(device, passwordHash: hash, change: change)
        }
    }

    func close() {
        database.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - The sides

    /// FleetMonitor on an MQTTTransport with the production defaults (Receive Maximum 100,
    /// inbound buffer 10,000 messages), writing behind to the SQLite store.
    func measureHub() async throws -> [String: Any] {
        let broker = try startBroker("hub")
        defer { broker.stop() }
        var configuration = MQTTTransport.Configuration(
            port: broker.port, clientID: "starling-hub-bench", cleanStart: true, sessionExpiry: .zero)
        configuration.receiveMaximum = options.receiveMaximum
        let transport = try MQTTTransport(configuration: configuration)
        try await transport.connect()
        let metrics = HubMetrics()
        let monitor = FleetMonitor(
            transport: transport, store: store, now: Self.now, flushInterval: .milliseconds(options.flushMilliseconds),
            metrics: metrics.fleet)
        try await monitor.start()
        let running = Task { await monitor.run() }
        let cpuBefore = Self.cpuSeconds()
        let run = try await drive(broker: broker) { await monitor.counters.received }
        let cpu = Self.cpuSeconds() - cpuBefore
        let statistics = transport.statistics
        await transport.close()
        await running.value
        let counters = await monitor.counters
        let stored = try await store.liveStatuses().count
        let dropped = try await Self.brokerDropped(broker)
        var result = run.fields(side: "hub", options: options)
        result["received"] = counters.received - run.warmup
        result["applied"] = counters.applied - run.warmup
        result["malformed"] = counters.malformed
        result["unknown_device"] = counters.unknownDevice
        result["flushed"] = counters.flushed
        result["flushes"] = counters.flushes
        result["save_failures"] = counters.saveFailures
        result["stored_statuses"] = stored
        result["broker_dropped"] = dropped
        result["peak_buffered_inbound"] = statistics.peakBufferedInbound
        result["inbound_stalls"] = statistics.inboundStalls
        result["hub_process_cpu_s"] = cpu
        result["complete"] = run.complete && counters.applied - run.warmup == run.sent && dropped == 0
        return result
    }

    /// `mosquitto_sub -V 5 -q 1` with the same Receive Maximum, its output counted in lines.
    func measureMosquittoSub() async throws -> [String: Any] {
        let broker = try startBroker("mosquitto_sub")
        defer { broker.stop() }
        let subscriber = try LineCounter([
            "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-V", "5", "-q", "1",
            "-D", "connect", "receive-maximum", "\(options.receiveMaximum)", "-i", "bench-mosquitto-sub",
            "-t", "\(Topic.root)/devices/+/telemetry",
        ])
        defer { subscriber.child.terminate() }
        // mosquitto_sub's standard output is a pipe, so C buffers it in 4 KiB blocks: a probe
        // larger than that, every 50 ms, pushes out what it holds. Ready once the first arrives;
        // at the end the last messages come through within 50 ms. Probes are not counted.
        let probe = try MQTTTransport(configuration: .init(port: broker.port, clientID: "bench-probe", cleanStart: true))
        try await probe.connect()
        let probing = Task {
            let message = Message(
                topic: "\(Topic.root)/devices/probe/telemetry", payload: Array(repeating: UInt8(ascii: "p"), count: 8192))
            while !Task.isCancelled {
                try? await probe.publish(message)
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        while subscriber.probes == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let run = try await drive(broker: broker) { subscriber.lines }
        probing.cancel()
        await probing.value
        await probe.close()
        let dropped = try await Self.brokerDropped(broker)
        var result = run.fields(side: "mosquitto_sub", options: options)
        result["received"] = subscriber.lines - run.warmup
        result["broker_dropped"] = dropped
        result["complete"] = run.complete && subscriber.lines - run.warmup == run.sent && dropped == 0
        subscriber.child.terminate()
        await subscriber.child.exit()
        return result
    }

    // MARK: - Driving the publishers

    struct Run {
        var warmup: Int
        var sent: Int
        var seconds: Double
        var publishSeconds: Double
        var complete: Bool

        func fields(side: String, options: Options) -> [String: Any] {
            [
                "section": "hub", "case": "ingest", "side": side, "devices": options.devices, "publishers": options.publishers,
                "window": options.window, "receive_maximum": options.receiveMaximum, "flush_ms": options.flushMilliseconds,
                "sent": sent, "seconds": seconds, "received_per_s": Double(sent) / seconds,
                "publish_seconds": publishSeconds, "sent_per_s": Double(sent) / publishSeconds,
            ]
        }
    }

    /// Starts the publishers, sends each device one message (warm-up: enrolment lookups,
    /// connections), waits for the subscriber to count them, then times `messages` more from the
    /// moment the publishers are told to go to the moment the subscriber has counted them all.
    /// Gives up after `stallSeconds` without progress (`complete` is then false).
    func drive(broker: MosquittoProcess, received: () async -> Int) async throws -> Run {
        let count = options.publishers
        let children = try (0..<count).map { index in
            try Child([
                executable, "publish", "\(broker.port)", "\(index)", "\(count)", "\(options.devices)", "\(options.window)",
            ])
        }
        defer { for child in children { child.terminate() } }
        for child in children { guard await child.line() == "ready" else { throw BenchError("a publisher did not start") } }
        let warmup = options.devices
        var shares = (0..<count).map { (options.devices - $0 + count - 1) / count }
        _ = try await round(children, shares)
        guard await wait(for: warmup, received) != nil else { throw BenchError("the warm-up did not arrive") }

        shares = (0..<count).map { options.messages / count + ($0 < options.messages % count ? 1 : 0) }
        let start = ContinuousClock.now
        async let published = round(children, shares)
        let arrived = await wait(for: warmup + options.messages, received)
        let publishSeconds = try await published
        for child in children { child.send("quit") }
        for child in children { await child.exit() }
        let seconds = arrived.map { Self.seconds($0 - start) } ?? .nan
        return Run(
            warmup: warmup, sent: options.messages, seconds: seconds, publishSeconds: publishSeconds, complete: arrived != nil)
    }

    /// Tells each publisher to send its share; returns the slowest one's seconds once all are acknowledged.
    private func round(_ children: [Child], _ shares: [Int]) async throws -> Double {
        for (child, share) in zip(children, shares) { child.send("go \(share)") }
        var slowest = 0.0
        for (child, share) in zip(children, shares) {
            guard let line = await child.line(), line.hasPrefix("done \(share) "),
                let seconds = Double(line.split(separator: " ")[2])
            else { throw BenchError("a publisher failed") }
            slowest = max(slowest, seconds)
        }
        return slowest
    }

    /// Polls every millisecond until `received()` reaches `target`: the instant it did, or nil
    /// after `stallSeconds` without progress.
    private func wait(for target: Int, _ received: () async -> Int) async -> ContinuousClock.Instant? {
        var last = -1
        var lastChange = ContinuousClock.now
        while true {
            let now = ContinuousClock.now
            let value = await received()
            if value >= target { return now }
            if value != last {
                last = value
                lastChange = now
            } else if now - lastChange > .seconds(options.stallSeconds) {
                return nil
            }
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    // MARK: - Broker

    /// A fresh broker for one side: loopback, anonymous, no persistence, queues bounded by bytes
    /// only and raised to 1 GiB so that a slow subscriber's backlog waits instead of dropping;
    /// $SYS every second for the dropped count.
    private func startBroker(_ name: String) throws -> MosquittoProcess {
        let port = try MosquittoProcess.freePort()
        let config = MosquittoConfiguration(
            listeners: [.loopback(port: port)], allowAnonymous: true, persistenceLocation: nil, maxQueuedBytes: 1 << 30,
            logTypes: ["error", "warning"], user: ProcessInfo.processInfo.userName, extraLines: ["sys_interval 1"])
        let file = "\(directory)/mosquitto-\(name).conf"
        try config.render().write(toFile: file, atomically: true, encoding: .utf8)
        return try MosquittoProcess.start(configFile: file, port: port, logFile: "\(directory)/mosquitto-\(name).log")
    }

    /// `$SYS/broker/publish/messages/dropped`, read after the next $SYS update.
    private static func brokerDropped(_ broker: MosquittoProcess) async throws -> Int {
        try await Task.sleep(for: .milliseconds(1200))
        let client = try MQTTTransport(configuration: .init(port: broker.port, clientID: "bench-sys", cleanStart: true))
        try await client.connect()
        try await client.subscribe("$SYS/broker/publish/messages/dropped", qos: .atMostOnce)
        var iterator = client.messages.makeAsyncIterator()
        let message = await iterator.next()
        await client.close()
        guard let message, let value = Int(String(decoding: message.payload, as: UTF8.self)) else {
            throw BenchError("the broker did not report its dropped messages")
        }
        return value
    }

    // MARK: - Helpers

    static func deviceID(_ index: Int) -> String { "bench-\(index)" }

    /// A telemetry window of `device`, one of four variants.
    static func telemetry(device: String, variant: Int) -> Telemetry {
        Telemetry(
            id: "\(device)-\(variant)", time: 1_800_000_000_000 + Int64(variant) * 60_000, windowMs: 60_000,
            modelName: ModelName(unchecked: "digits"), modelVersion: "1.3.0", predictions: 1200 + variant,
            errorRate: 0.01 * Double(variant), latencyP50Ms: 1.5, latencyP95Ms: 4.25, feedbackCount: 80,
            feedbackAccuracy: 0.875, cpuPercent: 12.5, rssBytes: 48_234_496, diskUsedBytes: 73_400_320)
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    static func emit(_ fields: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
