import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An in-process federated run over the real protocol objects: each round the server encodes the
/// global parameters into one `FLTaskFrame`, every selected client answers it with
/// `FederatedClient.answer` (evaluate, train, clip, encode, sign), the server parses and verifies
/// each `FLUpdateFrame`, decodes it with `UpdateCodec` and feeds the strategy, then evaluates
/// the new global on held-out rows. Only the transport is missing; bytes are the frames' sizes.
public struct FederatedSimulation: Sendable {
    /// One simulated device and its labelled data.
    public struct Participant: Sendable {
        /// The device id (also the update's sender).
        public var id: String
        /// Its data, already through the feature pipeline.
        public var data: FederatedClient.LocalData

        /// A participant.
        public init(id: String, data: FederatedClient.LocalData) {
            self.id = id
            self.data = data
        }
    }

    /// The model: its structure and the initial global parameters.
    public let graph: Graph
    /// The devices, in a fixed order (client index = position).
    public let participants: [Participant]
    /// Held-out rows for centralized evaluation.
    public let test: FederatedClient.LocalData
    /// The settings.
    public let configuration: SimulationConfiguration

    /// A simulation; throws if the configuration is out of range or there are no participants.
    public init(
        graph: Graph, participants: [Participant], test: FederatedClient.LocalData, configuration: SimulationConfiguration
    ) throws(FederationError) {
        try configuration.validate()
        guard !participants.isEmpty else { throw FederationError(.invalidArgument, "the simulation has no clients") }
        guard ParameterLayout(graph: graph).count > 0 else {
            throw FederationError(.training, "the model has no trainable parameters")
        }
        self.graph = graph
        self.participants = participants
        self.test = test
        self.configuration = configuration
    }

    /// Runs every round with `strategy`; `progress` sees each round as it ends.
    public func run(
        strategy initial: any AggregationStrategy, progress: (SimulationRound) -> Void = { _ in }
    ) throws(FederationError) -> SimulationResult {
        var strategy = initial
        let c = configuration
        let layout = ParameterLayout(graph: graph)
        var global = try layout.flatten(graph)
        let keys = participants.map { _ in Curve25519.Signing.PrivateKey() }
        let clients = participants.enumerated().map { i, p in
            FederatedClient(device: p.id, keyId: "sim-key-\(i)", key: keys[i])
        }
        let malicious = maliciousClients()
        var residuals = [[Float]?](repeating: nil, count: participants.count)
        var rounds: [SimulationRound] = []
        for round in 1...c.rounds {
            let started = ContinuousClock.now
            let now = Int64(round) * 60_000
            let learningRate = c.learningRate * pow(c.learningRateDecay, Double(round - 1))
            let frame = try taskFrame(round: round, global: global, layout: layout, learningRate: learningRate, now: now)
            let taskBytes = try Self.bytes(of: frame)
            try strategy.beginRound(global: global)
            var pooled = Pooled()
            var bytesUp = 0
            let selected = selection(round: round)
            for i in selected {
                let bad = malicious.contains(i)
                var residual: [Float]? = nil
                if c.errorFeedback, !bad, c.upEncoding != .float32 {
                    residual = residuals[i] ?? [Float](repeating: 0, count: layout.count)
                }
                var outcome = try clients[i].answer(
                    frame, graph: graph, data: participants[i].data, residual: &residual, now: now,
                    seed: SimulationConfiguration.trainingSeed(seed: c.seed, round: round, client: i))
                if bad {
                    outcome.frame = try corrupt(outcome, layout: layout, key: keys[i])
                } else if residual != nil {
                    residuals[i] = residual
                }
                let wire = outcome.frame.encoded()
                bytesUp += wire.count
                let (header, payload) = try receive(wire, key: keys[i].publicKey, round: round, layout: layout)
                let delta = try UpdateCodec.decode(payload, layout: layout)
                try strategy.add(ClientUpdate(client: participants[i].id, delta: delta, examples: header.examples))
                pooled.add(header)
            }
            global = try strategy.finishRound()
            let evaluation = try evaluate(global, layout: layout)
            let record = SimulationRound(
                round: round, clients: selected.count, byzantine: selected.filter(malicious.contains).count,
                testAccuracy: evaluation.accuracy, testLoss: evaluation.loss, federatedAccuracy: pooled.accuracy,
                federatedLoss: pooled.loss, trainLoss: pooled.trainLoss, bytesDown: taskBytes * selected.count,
                bytesUp: bytesUp, learningRate: learningRate, seconds: started.duration(to: .now).seconds)
            rounds.append(record)
            progress(record)
        }
        return SimulationResult(rounds: rounds, parameters: global)
    }

    // MARK: - Server side

    private func taskFrame(
        round: Int, global: [Float], layout: ParameterLayout, learningRate: Double, now: Int64
    ) throws(FederationError) -> FLTaskFrame {
        let c = configuration
        var none: [Float]? = nil
        let payload = try UpdateCodec.encode(global, layout: layout, as: c.downEncoding, residual: &none)
        var fraction: Double? = nil
        if case .topK(let f) = c.upEncoding { fraction = f }
        let task = FLTask(
            id: "sim-task-\(round)", time: now, roundId: "sim", roundNumber: round, modelName: ModelName(unchecked: "sim"),
            baseVersion: "round-\(round - 1)", deadline: now + 60_000, localEpochs: c.localEpochs, batchSize: c.batchSize,
            learningRate: learningRate, optimizer: c.optimizer, proximalMu: c.proximalMu > 0 ? c.proximalMu : nil,
            clipNorm: c.clipNorm, encoding: c.upEncoding.name, topKFraction: fraction, layoutDigest: layout.digest,
            globalEncoding: c.downEncoding.name, globalSize: payload.count, globalSha256: PackageDigest.sha256(payload))
        do {
            return try FLTaskFrame(task: task, payload: payload)
        } catch {
            throw FederationError(.malformed, "the task frame could not be built: \(error.message)")
        }
    }

    /// Parses an update frame as the hub would: its verified header and its payload.
    private func receive(
        _ wire: [UInt8], key: Curve25519.Signing.PublicKey, round: Int, layout: ParameterLayout
    ) throws(FederationError) -> (FLUpdateHeader, [UInt8]) {
        let header: FLUpdateHeader
        let frame: FLUpdateFrame
        do {
            frame = try FLUpdateFrame(parsing: wire)
            header = try frame.header.verified(with: key)
        } catch {
            throw FederationError(.malformed, "an update frame was refused: \(error.message)")
        }
        guard header.roundNumber == round, header.layoutDigest == layout.digest else {
            throw FederationError(.shapeMismatch, "update \(header.id) is for another round or model")
        }
        return (header, frame.payload)
    }

    private func evaluate(_ global: [Float], layout: ParameterLayout) throws(FederationError) -> EvaluationResult {
        var model = graph
        try layout.apply(global, to: &model)
        let loss: Loss = if case .classes = test.targets { .softmaxCrossEntropy } else { .meanSquaredError }
        do {
            return try Evaluator(graph: model, loss: loss).evaluate(test.feeds, test.targets)
        } catch {
            throw FederationError(.training, "evaluating the global parameters failed: \(error.message)")
        }
    }

    // MARK: - Clients

    /// Client indices sent the task in `round`: all of them, or a seeded sample of `fraction`.
    func selection(round: Int) -> [Int] {
        let n = participants.count
        let k = max(1, Int(Double(n) * configuration.fraction))
        guard k < n else { return Array(0..<n) }
        var random = RandomSource(seed: configuration.seed &+ UInt64(round) &* 0x9E37_79B9)
        return random.permutation(n).prefix(k).sorted()
    }

    /// The malicious client indices, fixed for the whole run.
    func maliciousClients() -> Set<Int> {
        let n = participants.count
        let count = Int((Double(n) * configuration.byzantineFraction).rounded())
        guard count > 0 else { return [] }
        var random = RandomSource(seed: ~configuration.seed)
        return Set(random.permutation(n).prefix(count))
    }

    /// The honest outcome with its delta replaced by the attack's, re-encoded and re-signed.
    private func corrupt(
        _ outcome: FederatedClient.Outcome, layout: ParameterLayout, key: Curve25519.Signing.PrivateKey
    ) throws(FederationError) -> FLUpdateFrame {
        guard let delta = outcome.delta else { return outcome.frame }
        var none: [Float]? = nil
        let payload = try UpdateCodec.encode(
            configuration.attack.apply(to: delta), layout: layout, as: configuration.upEncoding, residual: &none)
        var header = outcome.frame.header.unverified
        header.payloadSize = payload.count
        header.payloadSha256 = PackageDigest.sha256(payload)
        do {
            return try FLUpdateFrame(header: SignedMessage(signing: header, with: key), payload: payload)
        } catch {
            throw FederationError(.malformed, "the corrupted update could not be signed: \(error.message)")
        }
    }

    private static func bytes(of frame: FLTaskFrame) throws(FederationError) -> Int {
        do {
            return try frame.encoded().count
        } catch {
            throw FederationError(.malformed, "the task frame could not be encoded: \(error.message)")
        }
    }
}

/// Federated evaluation and training loss pooled over a round's update headers.
private struct Pooled {
    var examples = 0
    var correct = 0
    var lossSum: Double = 0
    var hasAccuracy = false
    var trainExamples = 0
    var trainLossSum: Double = 0

    mutating func add(_ h: FLUpdateHeader) {
        if h.evalExamples > 0 {
            examples += h.evalExamples
            if let c = h.evalCorrect {
                correct += c
                hasAccuracy = true
            }
            if let l = h.evalLossMicros { lossSum += Double(l) / 1e6 * Double(h.evalExamples) }
        }
        if let l = h.trainLossMicros, h.examples > 0 {
            trainExamples += h.examples
            trainLossSum += Double(l) / 1e6 * Double(h.examples)
        }
    }

    var accuracy: Float? { hasAccuracy && examples > 0 ? Float(Double(correct) / Double(examples)) : nil }
    var loss: Float? { examples > 0 ? Float(lossSum / Double(examples)) : nil }
    var trainLoss: Float? { trainExamples > 0 ? Float(trainLossSum / Double(trainExamples)) : nil }
}
