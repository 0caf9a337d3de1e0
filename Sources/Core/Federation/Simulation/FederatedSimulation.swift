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

    /// Runs every round with `strategy`; `progress` sees each round as it ends. The server side is
    /// the hub's `RoundCoordinator`: the same task frames, checks and aggregation.
    public func run(
        strategy: any AggregationStrategy, progress: (SimulationRound) -> Void = { _ in }
    ) throws(FederationError) -> SimulationResult {
        let c = configuration
        let layout = ParameterLayout(graph: graph)
        var coordinator = try makeCoordinator(strategy: strategy, layout: layout)
        var clients = makeClients(layout: layout)
        var rounds: [SimulationRound] = []
        for round in 1...c.rounds {
            let started = ContinuousClock.now
            let (now, learningRate, selected, frame) = try openRound(round, on: &coordinator)
            let taskBytes = try Self.encoded(frame).count
            var bytesUp = 0
            var refused = 0
            for i in selected {
                let wire = try clients[i].respond(to: frame, in: self, round: round, now: now).encoded()
                bytesUp += wire.count
                if try receive(wire, from: clients[i], into: &coordinator, now: now) { refused += 1 }
            }
            let record = try close(
                &coordinator, round: round, selected: selected, clients: clients, refused: refused,
                bytesDown: taskBytes * selected.count, bytesUp: bytesUp, learningRate: learningRate, layout: layout,
                started: started)
            rounds.append(record)
            progress(record)
        }
        return SimulationResult(rounds: rounds, parameters: coordinator.global)
    }

    /// Opens `round` on the coordinator: its simulated time, its local learning rate, the
    /// selected client indices and the task frame they are sent.
    func openRound(
        _ round: Int, on coordinator: inout RoundCoordinator
    ) throws(FederationError) -> (now: Int64, learningRate: Double, selected: [Int], frame: FLTaskFrame) {
        let now = Int64(round) * 60_000
        let learningRate = configuration.learningRate * pow(configuration.learningRateDecay, Double(round - 1))
        let selected = selection(round: round)
        let frame = try coordinator.open(
            selected: selected.map { participants[$0].id }, now: now, deadline: now + 60_000, learningRate: learningRate)
        return (now, learningRate, selected, frame)
    }

    /// The server: the hub's coordinator with the run's settings and the model's initial parameters.
    func makeCoordinator(
        strategy: any AggregationStrategy, layout: ParameterLayout
    ) throws(FederationError) -> RoundCoordinator {
        let c = configuration
        var fraction: Double? = nil
        if case .topK(let f) = c.upEncoding { fraction = f }
        return try RoundCoordinator(
            roundId: "sim", modelName: ModelName(unchecked: "sim"), baseVersion: "0.0.0", layout: layout,
            global: try layout.flatten(graph),
            settings: RoundSettings(
                localEpochs: c.localEpochs, batchSize: c.batchSize, learningRate: c.learningRate, optimizer: c.optimizer,
                proximalMu: c.proximalMu > 0 ? c.proximalMu : nil, clipNorm: c.clipNorm, upEncoding: c.upEncoding.name,
                topKFraction: fraction, downEncoding: c.downEncoding.name, normBound: c.normBound),
            strategy: strategy)
    }

    /// Parses `wire` as the server does and hands it to the coordinator; true when the norm
    /// bound refused it (any other refusal is an error of the simulation).
    func receive(
        _ wire: [UInt8], from client: SimulatedClient, into coordinator: inout RoundCoordinator, now: Int64
    ) throws(FederationError) -> Bool {
        let received: FLUpdateFrame
        do {
            received = try FLUpdateFrame(parsing: wire)
        } catch {
            throw FederationError(.malformed, "an update frame was refused: \(error.message)")
        }
        switch coordinator.receive(received, from: client.client.device, key: client.publicKey, now: now + 1) {
        case .accepted: return false
        case .rejected(.normTooLarge, _): return true
        case .rejected(_, let why): throw FederationError(.malformed, "the server refused an update: \(why)")
        }
    }

    /// Closes the round's iteration, evaluates the new global on the test rows and records the round.
    func close(
        _ coordinator: inout RoundCoordinator, round: Int, selected: [Int], clients: [SimulatedClient], refused: Int,
        bytesDown: Int, bytesUp: Int, learningRate: Double, layout: ParameterLayout, started: ContinuousClock.Instant
    ) throws(FederationError) -> SimulationRound {
        let closed = try coordinator.close()
        let evaluation = try evaluate(closed.global, layout: layout)
        let pooled = closed.state.evaluation
        return SimulationRound(
            round: round, clients: selected.count, byzantine: selected.filter { clients[$0].malicious }.count,
            refused: refused, testAccuracy: evaluation.accuracy, testLoss: evaluation.loss,
            federatedAccuracy: pooled.accuracy.map(Float.init), federatedLoss: pooled.loss.map(Float.init),
            trainLoss: pooled.trainLoss.map(Float.init), bytesDown: bytesDown, bytesUp: bytesUp, learningRate: learningRate,
            seconds: started.duration(to: .now).seconds)
    }

    // MARK: - Server side

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

    /// One client per participant, with its signing key, its error-feedback memory and whether
    /// it is one of the malicious ones.
    func makeClients(layout: ParameterLayout) -> [SimulatedClient] {
        let malicious = maliciousClients()
        return participants.enumerated().map { i, p in
            SimulatedClient(index: i, id: p.id, malicious: malicious.contains(i), layout: layout)
        }
    }

    static func encoded(_ frame: FLTaskFrame) throws(FederationError) -> [UInt8] {
        do {
            return try frame.encoded()
        } catch {
            throw FederationError(.malformed, "the task frame could not be encoded: \(error.message)")
        }
    }
}

/// A simulated device: the real `FederatedClient` with its key and error-feedback residual; a
/// malicious one replaces its delta with the attack's and signs that.
struct SimulatedClient: Sendable {
    let index: Int
    let malicious: Bool
    let client: FederatedClient
    private let key: Curve25519.Signing.PrivateKey
    private let layout: ParameterLayout
    private var residual: [Float]?

    init(index: Int, id: String, malicious: Bool, layout: ParameterLayout) {
        let key = Curve25519.Signing.PrivateKey()
        self.index = index
        self.malicious = malicious
        self.key = key
        self.client = FederatedClient(device: id, keyId: "sim-key-\(index)", key: key)
        self.layout = layout
    }

    /// The key the server checks this client's updates with.
    var publicKey: Curve25519.Signing.PublicKey { key.publicKey }

    /// The update this client sends for `frame` in `round`.
    mutating func respond(
        to frame: FLTaskFrame, in simulation: FederatedSimulation, round: Int, now: Int64
    ) throws(FederationError) -> FLUpdateFrame {
        let c = simulation.configuration
        var memory: [Float]? = nil
        if c.errorFeedback, !malicious, c.upEncoding != .float32 {
            memory = residual ?? [Float](repeating: 0, count: layout.count)
        }
        let outcome = try client.answer(
            frame, graph: simulation.graph, data: simulation.participants[index].data, residual: &memory, now: now,
            seed: SimulationConfiguration.trainingSeed(seed: c.seed, round: round, client: index))
        if malicious { return try corrupt(outcome, configuration: c) }
        if memory != nil { residual = memory }
        return outcome.frame
    }

    /// The honest outcome with its delta replaced by the attack's, re-encoded and re-signed.
    private func corrupt(
        _ outcome: FederatedClient.Outcome, configuration: SimulationConfiguration
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
}
