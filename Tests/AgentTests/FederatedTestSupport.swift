import Core
import Foundation
import Prometheus
import Testing

@testable import Agent

/// A federated client on a `SyncBench` (in-memory broker, hub inbox, SQLite store), with the
/// digits model served as version 1.0.0 and a device signing key.
final class FederatedBench: Sendable {
    static let model = OIPFixtures.digitsModel
    static let version = "1.0.0"
    static let policy = FirmwareProfile.TrainingPolicy(
        allowed: true, maxSeconds: 600, maxMemoryMegabytes: 256, onlyWhenIdle: false, onlyOnMainsPower: false)

    let sync: SyncBench
    let registry: ModelRegistry
    let key: SigningKey
    let metricsRegistry: PrometheusCollectorRegistry
    let service: FederatedService
    let directory: String

    init(
        sync: SyncBench, directory: String, policy: FirmwareProfile.TrainingPolicy = FederatedBench.policy,
        configuration: FederatedConfiguration = FederatedConfiguration(), withKey: Bool = true,
        key: SigningKey? = nil
    ) throws {
        self.sync = sync
        self.directory = directory
        registry = ModelRegistry()
        try registry.load(Self.model, name: "digits", version: Self.version)
        let signingKey = key ?? SigningKey.generate(name: "dev-1")
        let metricsRegistry = PrometheusCollectorRegistry()
        self.key = signingKey
        self.metricsRegistry = metricsRegistry
        let wall = sync.wall
        service = FederatedService(
            device: SyncBench.device, store: sync.store, registry: registry, configuration: configuration, policy: policy,
            key: withKey ? signingKey : nil, directory: directory, loadModel: { _, _ in FederatedBench.model },
            metrics: FederatedMetrics(registry: metricsRegistry), wallClock: { wall.now })
    }

    /// Logs `count` digits predictions (rows `start...`) with their true labels as feedback.
    func addLabelledPredictions(_ count: Int, from start: Int = 0) async throws {
        let digits = OIPFixtures.digits
        for r in start..<(start + count) {
            let tensor = InferenceTensor(
                name: ModelBuilder.inputName, datatype: .fp32, shape: [1, 64],
                values: .numbers(OIPFixtures.pixels(rows: 1, from: r)))
            let record = PredictionRecord(
                requestID: "req-\(r)", time: sync.wall.now, modelName: "digits", modelVersion: Self.version,
                inputs: InferenceResponse.logJSON([tensor]), outputs: "[]", latencyMicroseconds: 100)
            #expect(sync.store.record(record))
        }
        await sync.store.flush()
        let items = (start..<(start + count)).map {
            FeedbackInput(predictionID: "req-\($0)", label: digits.labels[$0], time: sync.wall.now)
        }
        _ = try await sync.store.attachFeedback(items)
    }

    /// The bytes of a task frame for the digits model carrying its current parameters.
    func taskFrame(
        id: String = "task-1", kind: String = "fit", deadlineIn: Int64 = 600_000, minExamples: Int = 20, epochs: Int = 2,
        encoding: String = "float32", topK: Double? = nil
    ) throws -> [UInt8] {
        let layout = ParameterLayout(graph: Self.model.graph)
        var none: [Float]?
        let payload = try UpdateCodec.encode(try layout.flatten(Self.model.graph), layout: layout, as: .float32, residual: &none)
        let now = sync.wall.now
        let task = FLTask(
            id: id, time: now - 1000, roundId: "round-1", roundNumber: 1, kind: kind, modelName: try ModelName("digits"),
            baseVersion: Self.version, deadline: now + deadlineIn, localEpochs: epochs, batchSize: 16, learningRate: 0.05,
            encoding: encoding, topKFraction: topK, minExamples: minExamples, layoutDigest: layout.digest,
            globalSize: payload.count, globalSha256: PackageDigest.sha256(payload))
        return try FLTaskFrame(task: task, payload: payload).encoded()
    }

    /// Hands `frame` to the service and waits until it is settled.
    func deliver(_ frame: [UInt8]) async {
        await service.receive(frame)
        await service.waitForTasks()
    }

    /// The federated events waiting in the outbox, in order.
    func queuedEvents() async throws -> [DeviceEvent] {
        try await sync.store.pendingOutbox(limit: 1000).filter { $0.kind == .event }.compactMap {
            try? MessageCodec.decode(DeviceEvent.self, from: $0.payload)
        }.filter { $0.kind == .federated }
    }

    /// The update frames waiting in the outbox (one message each, or put together from their parts).
    func queuedUpdates() async throws -> [FLUpdateFrame] {
        var parts = FLUpdateAssembler()
        var frames: [FLUpdateFrame] = []
        for message in try await queuedUpdateMessages() {
            if FLUpdatePartFrame.isPart(message) {
                if let whole = try parts.add(FLUpdatePartFrame(parsing: message), from: "bench", now: 0) {
                    frames.append(try FLUpdateFrame(parsing: whole))
                }
            } else {
                frames.append(try FLUpdateFrame(parsing: message))
            }
        }
        return frames
    }

    /// The messages waiting on the device's `fl/update` topic, in outbox order.
    func queuedUpdateMessages() async throws -> [[UInt8]] {
        try await sync.store.pendingOutbox(limit: 1000).filter { $0.topic == Topic.flUpdate(SyncBench.device).name }.map(\.payload)
    }

    /// The value of the counter line that starts with `prefix` in the exposition.
    func counter(_ prefix: String) -> Double? {
        for line in metricsRegistry.emitToString().split(separator: "\n") where line.hasPrefix(prefix) {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }
}

/// `body` with a federated bench on a fresh sync bench.
func withFederatedBench(
    policy: FirmwareProfile.TrainingPolicy = FederatedBench.policy,
    configuration: FederatedConfiguration = FederatedConfiguration(), withKey: Bool = true,
    _ body: (FederatedBench) async throws -> Void
) async throws {
    try await withSyncBench { sync in
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-fl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bench = try FederatedBench(
            sync: sync, directory: directory, policy: policy, configuration: configuration, withKey: withKey)
        try await body(bench)
    }
}
