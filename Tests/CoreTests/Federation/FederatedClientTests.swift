import Core
import Crypto
import Testing

@Suite("FederatedClient")
struct FederatedClientTests {
    let client = FederatedClient(device: "dev-1", keyId: "key-1", key: FederationFixtures.key)
    let global = try! FederationFixtures.layout.flatten(FederationFixtures.graph)
    let data = FederationFixtures.data(count: 60, seed: 11)

    @Test("the delta is the trained parameters minus the global, and the update verifies")
    func deltaIsTrainedMinusGlobal() throws {
        var residual: [Float]? = nil
        let outcome = try client.answer(
            try FederationFixtures.task(global: global), graph: FederationFixtures.graph, data: data, residual: &residual,
            now: 1_500, seed: 9)
        // The same training, done directly with the Trainer from the same start and seed.
        var trained = FederationFixtures.graph
        try Trainer(config: TrainingConfig(epochs: 2, batchSize: 8, optimizer: .sgd(learningRate: 0.1), seed: 9))
            .fit(&trained, feeds: data.feeds, targets: data.targets)
        let expected = zip(try FederationFixtures.layout.flatten(trained), global).map { $0 - $1 }
        #expect(outcome.delta == expected)
        #expect(try UpdateCodec.decode(outcome.frame.payload, layout: FederationFixtures.layout) == expected)
        let header = try outcome.frame.header.verified(with: FederationFixtures.key.publicKey)
        #expect(header.examples == 60)
        #expect(header.epochs == 2)
        #expect(header.evalExamples == 60)
        #expect(outcome.reports.count == 2)
        #expect(expected.contains { $0 != 0 })
    }

    @Test("an evaluate task trains nothing and reports the global's accuracy")
    func evaluateOnly() throws {
        var residual: [Float]? = nil
        let outcome = try client.answer(
            try FederationFixtures.task(global: global, kind: "evaluate"), graph: FederationFixtures.graph, data: data,
            residual: &residual, now: 1_500, seed: 1)
        #expect(outcome.delta == nil)
        #expect(outcome.reports.isEmpty)
        #expect(outcome.frame.payload.isEmpty)
        let header = outcome.frame.header.unverified
        #expect(header.examples == 0)
        #expect(header.evalExamples == 60)
        let direct = try Evaluator(graph: FederationFixtures.graph, loss: .softmaxCrossEntropy)
            .evaluate(data.feeds, data.targets)
        #expect(header.evalCorrect == Int((direct.accuracy! * 60).rounded()))
    }

    @Test("too few examples are refused")
    func tooFewExamples() throws {
        var residual: [Float]? = nil
        #expect(throws: FederationError.self) {
            try client.answer(
                try FederationFixtures.task(global: global, minExamples: 61), graph: FederationFixtures.graph, data: data,
                residual: &residual, now: 1_500, seed: 1)
        }
    }

    @Test("a task for another layout is refused before any training")
    func wrongLayout() throws {
        let other = try ModelBuilder.build(.mlp(hidden: [4]), inputShape: [8], outputs: 3, seed: 3)
        let otherLayout = ParameterLayout(graph: other)
        var residual: [Float]? = nil
        let frame = try FederationFixtures.task(global: try otherLayout.flatten(other), layout: otherLayout)
        do {
            _ = try client.answer(
                frame, graph: FederationFixtures.graph, data: data, residual: &residual, now: 1_500, seed: 1)
            Issue.record("a task for another layout was answered")
        } catch {
            #expect(error.code == .shapeMismatch)
        }
    }

    @Test("the update is clipped to the task's norm")
    func clipping() throws {
        var residual: [Float]? = nil
        let frame = try FederationFixtures.task(global: global, clipNorm: 0.05, lr: 0.5)
        let outcome = try client.answer(
            frame, graph: FederationFixtures.graph, data: data, residual: &residual, now: 1_500, seed: 2)
        let norm = FederatedClient.l2Norm(outcome.delta!)
        #expect(abs(norm - 0.05) < 1e-4)
        var unclipped: [Float]? = nil
        let free = try client.answer(
            try FederationFixtures.task(global: global, lr: 0.5), graph: FederationFixtures.graph, data: data,
            residual: &unclipped, now: 1_500, seed: 2)
        #expect(FederatedClient.l2Norm(free.delta!) > 0.05)
        // Clipping scales the direction, never turns it.
        let k = norm / FederatedClient.l2Norm(free.delta!)
        for (a, b) in zip(outcome.delta!, free.delta!) { #expect(abs(a - k * b) <= 1e-6) }
    }

    @Test("a lossy encoding fills the residual with what it left out")
    func residualKept() throws {
        var residual: [Float]? = [Float](repeating: 0, count: FederationFixtures.layout.count)
        let outcome = try client.answer(
            try FederationFixtures.task(global: global, encoding: "topk", topK: 0.1), graph: FederationFixtures.graph,
            data: data, residual: &residual, now: 1_500, seed: 3)
        let sent = try UpdateCodec.decode(outcome.frame.payload, layout: FederationFixtures.layout)
        for i in sent.indices { #expect(abs(sent[i] + residual![i] - outcome.delta![i]) <= 1e-7) }
        #expect(sent.filter { $0 != 0 }.count == Int((Double(sent.count) * 0.1).rounded(.up)))
    }
}
