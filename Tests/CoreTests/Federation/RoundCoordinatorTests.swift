import Core
import Crypto
import Testing

/// The server side of a round: what it accepts, what it refuses (and why), and that a snapshot
/// taken mid-iteration resumes to the same result.
@Suite("Round coordinator")
struct RoundCoordinatorTests {
    static let graph = try! ModelBuilder.build(.logisticRegression, inputShape: [3], outputs: 2, seed: 3)
    static let layout = ParameterLayout(graph: graph)
    static let model = try! ModelName("toy")

    /// Device `n`'s key and client.
    static func client(_ n: Int) -> (FederatedClient, Curve25519.Signing.PublicKey) {
        let key = try! SigningKey(name: "d\(n)", seed: [UInt8](repeating: UInt8(n + 1), count: 32))
        return (FederatedClient(device: "d\(n)", keyId: key.keyId, key: key.privateKey), key.privateKey.publicKey)
    }

    /// A few separable rows: class = x0 > x1.
    static func data(_ n: Int) -> FederatedClient.LocalData {
        var random = RandomSource(seed: UInt64(n + 10))
        var x: [Float] = []
        var y: [Int] = []
        for _ in 0..<24 {
            let a = random.uniform(-1, 1)
            let b = random.uniform(-1, 1)
            x += [a, b, random.uniform(-1, 1)]
            y.append(a > b ? 1 : 0)
        }
        return .init(feeds: [ModelBuilder.inputName: Tensor(shape: [24, 3], scalars: x)], targets: .classes(y))
    }

    static func coordinator(normBound: Double? = nil) throws -> RoundCoordinator {
        try RoundCoordinator(
            roundId: "r1", modelName: model, baseVersion: "1.0.0", layout: layout, global: try layout.flatten(graph),
            settings: RoundSettings(localEpochs: 2, batchSize: 8, learningRate: 0.5, normBound: normBound), strategy: FedAvg())
    }

    static func answer(_ n: Int, _ task: FLTaskFrame) throws -> FLUpdateFrame {
        var residual: [Float]? = nil
        return try client(n).0.answer(task, graph: graph, data: data(n), residual: &residual, now: 1_000, seed: UInt64(n)).frame
    }

    @Test("accepted updates aggregate to the example-weighted mean of the clients' deltas")
    func aggregates() throws {
        var c = try Self.coordinator()
        let task = try c.open(selected: ["d0", "d1"], now: 0, deadline: 10_000)
        var deltas: [[Float]] = []
        for n in 0..<2 {
            var residual: [Float]? = nil
            let outcome = try Self.client(n).0.answer(task, graph: Self.graph, data: Self.data(n), residual: &residual, now: 1, seed: UInt64(n))
            deltas.append(try #require(outcome.delta))
            #expect(c.receive(outcome.frame, from: "d\(n)", key: Self.client(n).1, now: 1_000) == .accepted)
        }
        #expect(c.allAnswered)
        let before = c.global
        let result = try c.close()
        for i in 0..<before.count {
            let expected = before[i] + (deltas[0][i] + deltas[1][i]) / 2  // 24 examples each
            #expect(abs(result.global[i] - expected) <= 1e-6)
        }
        #expect(result.state.evaluation.examples == 48)
        #expect(result.state.evaluation.accuracy != nil)
        #expect(c.completed == 1 && c.iteration == nil)
    }

    @Test("refusals: bad signature, another device's key, unknown device, not selected, duplicate, late, replay")
    func refusals() throws {
        var c = try Self.coordinator()
        let task1 = try c.open(selected: ["d0", "d1"], now: 0, deadline: 10_000)
        let update0 = try Self.answer(0, task1)
        // Signed by d0, sent as d1: d1's key does not verify it.
        guard case .rejected(.badSignature, _) = c.receive(update0, from: "d1", key: Self.client(1).1, now: 5) else {
            Issue.record("another device's update was not refused")
            return
        }
        guard case .rejected(.unknownDevice, _) = c.receive(update0, from: "d0", key: nil, now: 5) else {
            Issue.record("an update without an enrolled key was not refused")
            return
        }
        let update2 = try Self.answer(2, task1)
        guard case .rejected(.notSelected, _) = c.receive(update2, from: "d2", key: Self.client(2).1, now: 5) else {
            Issue.record("an unselected device was not refused")
            return
        }
        #expect(c.receive(update0, from: "d0", key: Self.client(0).1, now: 5) == .accepted)
        guard case .rejected(.duplicate, _) = c.receive(update0, from: "d0", key: Self.client(0).1, now: 6) else {
            Issue.record("a duplicate was not refused")
            return
        }
        let update1 = try Self.answer(1, task1)
        guard case .rejected(.late, _) = c.receive(update1, from: "d1", key: Self.client(1).1, now: 10_001) else {
            Issue.record("an update after the deadline was not refused")
            return
        }
        _ = try c.close()
        _ = try c.open(selected: ["d0", "d1"], now: 20_000, deadline: 30_000)
        // d1's answer to iteration 1, replayed into iteration 2.
        guard case .rejected(.late, _) = c.receive(update1, from: "d1", key: Self.client(1).1, now: 20_001) else {
            Issue.record("an update replayed from an earlier iteration was not refused")
            return
        }
        #expect(c.rejections[.late] == 2 && c.rejections[.badSignature] == 1 && c.rejections[.duplicate] == 1)
    }

    /// Signs a crafted header over `payload` as device `n`.
    static func forged(_ n: Int, task: FLTask, payload: [UInt8], layoutDigest: String = layout.digest) throws -> FLUpdateFrame {
        let key = try SigningKey(name: "d\(n)", seed: [UInt8](repeating: UInt8(n + 1), count: 32))
        let header = FLUpdateHeader(
            id: "u\(n)", time: 1, roundId: task.roundId, roundNumber: task.roundNumber, taskId: task.id, modelName: task.modelName,
            baseVersion: task.baseVersion, examples: 10, epochs: 1, encoding: "float32", payloadSize: payload.count,
            payloadSha256: PackageDigest.sha256(payload), keyId: key.keyId, layoutDigest: layoutDigest)
        return try FLUpdateFrame(header: SignedMessage(signing: header, with: key.privateKey), payload: payload)
    }

    @Test("NaN, infinity, a norm of 1e6, a wrong shape and garbage are refused and counted")
    func badValues() throws {
        var c = try Self.coordinator(normBound: 10)
        let task = try c.open(selected: ["d0", "d1", "d2", "d3", "d4"], now: 0, deadline: 10_000).task
        var none: [Float]? = nil
        var nan = [Float](repeating: 0.01, count: Self.layout.count)
        nan[2] = .nan
        var inf = nan
        inf[2] = .infinity
        var huge = [Float](repeating: 0, count: Self.layout.count)
        huge[0] = 1e6
        let cases: [(Int, [UInt8], UpdateRejection)] = [
            (0, try UpdateCodec.encode(nan, layout: Self.layout, as: .float32, residual: &none), .nonFinite),
            (1, try UpdateCodec.encode(inf, layout: Self.layout, as: .float32, residual: &none), .nonFinite),
            (2, try UpdateCodec.encode(huge, layout: Self.layout, as: .float32, residual: &none), .normTooLarge),
            (3, Array("not an update".utf8), .malformed),
        ]
        for (n, payload, reason) in cases {
            let verdict = c.receive(try Self.forged(n, task: task, payload: payload), from: "d\(n)", key: Self.client(n).1, now: 1)
            guard case .rejected(let got, _) = verdict, got == reason else {
                Issue.record("case \(n): \(verdict), expected \(reason)")
                continue
            }
        }
        let otherLayout = ParameterLayout(graph: try ModelBuilder.build(.logisticRegression, inputShape: [4], outputs: 2))
        let wrong = try UpdateCodec.encode(
            [Float](repeating: 0, count: otherLayout.count), layout: otherLayout, as: .float32, residual: &none)
        guard case .rejected(.shapeMismatch, _) = c.receive(
            try Self.forged(4, task: task, payload: wrong, layoutDigest: otherLayout.digest), from: "d4", key: Self.client(4).1, now: 1)
        else {
            Issue.record("an update for another layout was not refused")
            return
        }
        #expect(c.rejections[.nonFinite] == 2 && c.rejections[.normTooLarge] == 1 && c.rejections[.malformed] == 1)
        #expect(c.rejections[.shapeMismatch] == 1)
        #expect(throws: FederationError.self) { _ = try c.close() }  // nothing accepted
    }

    @Test("a snapshot taken mid-iteration resumes to the same global, bit for bit")
    func snapshotResumes() throws {
        var a = try Self.coordinator()
        let task = try a.open(selected: ["d0", "d1", "d2"], now: 0, deadline: 10_000)
        let updates = try (0..<3).map { try Self.answer($0, task) }
        #expect(a.receive(updates[0], from: "d0", key: Self.client(0).1, now: 1) == .accepted)
        #expect(a.receive(updates[1], from: "d1", key: Self.client(1).1, now: 1) == .accepted)
        var b = try RoundCoordinator(restoring: try a.snapshot(), strategy: FedAvg())
        #expect(b.iteration == a.iteration)
        #expect(try b.taskFrame() == (try a.taskFrame()))
        // The restored coordinator still refuses a duplicate and accepts the last device.
        guard case .rejected(.duplicate, _) = b.receive(updates[1], from: "d1", key: Self.client(1).1, now: 2) else {
            Issue.record("the restored coordinator forgot who answered")
            return
        }
        #expect(a.receive(updates[2], from: "d2", key: Self.client(2).1, now: 2) == .accepted)
        #expect(b.receive(updates[2], from: "d2", key: Self.client(2).1, now: 2) == .accepted)
        #expect(try a.close().global == (try b.close().global))
    }
}
