import Core
import Crypto
import Foundation

/// One sample of every protocol message, the values the golden fixtures under
/// `Fixtures/protocol/` encode. Numbers are exactly representable so the JSON text is stable.
enum ProtocolSamples {
    static let device = try! DeviceID("pi-7")
    static let group = try! GroupID("lyon-canary")
    static let model = try! ModelName("digits-mlp")
    static let packageId = String(repeating: "ab", count: 16) + String(repeating: "01", count: 16)
    static let time: Int64 = 1_795_000_000_000

    /// The hub test key: a fixed Ed25519 seed (bytes 1...32).
    static let hubKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: (1...32).map { UInt8($0) })
    /// A device test key (bytes 101...132).
    static let deviceKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: (101...132).map { UInt8($0) })

    static let status = DeviceStatus(
        id: "status-0001", time: time, state: .online, agentVersion: "0.3.0", firmwareProfile: "rpi4-arm64",
        modelName: model, modelVersion: "1.2.0")

    static let telemetry = Telemetry(
        id: "telemetry-0042", time: time, windowMs: 60_000, modelName: model, modelVersion: "1.2.0",
        predictions: 1200, errorRate: 0.0625, latencyP50Ms: 1.5, latencyP95Ms: 4.25, feedbackCount: 80,
        feedbackAccuracy: 0.875, cpuPercent: 12.5, rssBytes: 48_234_496, diskUsedBytes: 73_400_320)

    static let event = DeviceEvent(
        id: "event-0007", time: time, kind: .error, phase: .verifying, error: .verificationFailed,
        reason: "chunk 3 does not match its SHA-256", modelName: model, modelVersion: "1.3.0", rolloutId: "rollout-12")

    static let feedback = FeedbackBatch(
        id: "outbox-000123", time: time, modelName: model, modelVersion: "1.2.0",
        rows: [
            .init(predictionId: "p-000001", label: "7", time: time - 5000),
            .init(predictionId: "p-000002", label: "three", time: time - 4000),
        ])

    static let drift: DriftReport = {
        var pixel = HistogramSketch(edges: [0, 4, 8, 12])
        for value in [0.0, 1, 3, 5, 9, 15, 16] { pixel.add(value) }
        pixel.add(nil)
        var predictions = HistogramSketch(edges: [0.5, 1.5, 2.5])
        for value in [0.0, 1, 1, 2, 3] { predictions.add(value) }
        return DriftReport(
            id: "drift-0003", time: time, modelName: model, modelVersion: "1.2.0", windowStart: time - 3_600_000,
            windowEnd: time, features: [.init(name: "pixel_0_3", sketch: pixel)], predictions: predictions)
    }()

    static let fetch = FetchRequest(
        id: "fetch-0009", time: time, packageId: packageId, head: true, chunks: [0, 1, 5],
        replyTopic: "starling/v1/devices/pi-7/chunks/transfer-1")

    static let assignment = Assignment(
        id: "assign-0005", time: time, device: device, modelName: model, modelVersion: "1.3.0", packageId: packageId,
        packageSize: 1_048_576, manifestLocation: "starling/v1/models/digits-mlp/manifest", rolloutId: "rollout-12",
        expiresAt: time + 86_400_000, allowDowngrade: false, keyId: "3f9a0c7e21b45d68")

    static let flTask = FLTask(
        id: "task-0001", time: time, roundId: "round-0004", roundNumber: 3, kind: "fit", modelName: model,
        baseVersion: "1.2.0", basePackageId: packageId,
        deadline: time + 1_800_000, localEpochs: 2, batchSize: 32, learningRate: 0.0625, optimizer: "sgd",
        proximalMu: 0.25, clipNorm: 1.5, encoding: "int8", topKFraction: nil, minExamples: 20, maxTrainingSeconds: 120,
        layoutDigest: layoutDigest, globalEncoding: "float16", globalSize: globalPayload.count,
        globalSha256: PackageDigest.sha256(globalPayload))

    static let layoutDigest = PackageDigest.sha256(Array("fc1.weight:64x64;fc1.bias:64;".utf8))

    static let globalPayload: [UInt8] = (0..<96).map { UInt8(($0 * 11 + 5) & 0xFF) }

    static let updatePayload: [UInt8] = (0..<64).map { UInt8(($0 * 37) & 0xFF) }

    static let flUpdateHeader = FLUpdateHeader(
        id: "update-0001", time: time, roundId: "round-0004", roundNumber: 3, taskId: "task-0001", modelName: model,
        baseVersion: "1.2.0", examples: 180, epochs: 2, encoding: "int8", payloadSize: updatePayload.count,
        payloadSha256: PackageDigest.sha256(updatePayload), keyId: "device-pi-7", layoutDigest: layoutDigest,
        evalExamples: 45, evalCorrect: 41, evalLossMicros: 312_500, trainLossMicros: 201_250, trainMillis: 840)

    static let broadcast = GroupBroadcast(
        id: "bcast-0002", time: time, kind: .roundOpened, modelName: model, modelVersion: "1.2.0", roundId: "round-0004",
        text: "round 4 is open until 18:30 UTC", expiresAt: time + 1_800_000)

    static let chunkFrame = try! ChunkFrame(
        kind: .chunk, packageId: packageId, index: 2, count: 5, payload: Array("starling chunk payload".utf8))
}
