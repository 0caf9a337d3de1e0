import Crypto

/// The device side of a federated round, free of storage and transport: given a task frame and
/// the device's labelled data (already through the model's feature pipeline), it evaluates the
/// global parameters, trains from them, clips and encodes the delta, and signs the update.
/// The agent and `starling simulate federated` both run this.
public struct FederatedClient: Sendable {
    /// The device's labelled data, ready for the graph.
    public struct LocalData: Sendable {
        /// Graph inputs, each [examples, ...].
        public var feeds: [String: Tensor]
        /// One target per example.
        public var targets: Targets

        /// Local data.
        public init(feeds: [String: Tensor], targets: Targets) {
            self.feeds = feeds
            self.targets = targets
        }
    }

    /// What answering a task produced.
    public struct Outcome: Sendable {
        /// The signed update, ready to publish.
        public var frame: FLUpdateFrame
        /// The global parameters' loss and accuracy on the local data, before training.
        public var evaluation: EvaluationResult?
        /// One report per local epoch (empty for `evaluate` tasks).
        public var reports: [EpochReport]
        /// The delta before encoding (after clipping); nil for `evaluate` tasks.
        public var delta: [Float]?
    }

    /// The device's id (the update's sender).
    public let device: String
    /// The id of the device's signing key.
    public let keyId: String
    private let key: Curve25519.Signing.PrivateKey

    /// A client signing with `key`, known to the hub as `keyId`.
    public init(device: String, keyId: String, key: Curve25519.Signing.PrivateKey) {
        self.device = device
        self.keyId = keyId
        self.key = key
    }

    /// Answers `task` starting from `graph`'s structure (its parameters are replaced by the
    /// task's global ones). `residual` is the client's error-feedback memory for lossy encodings
    /// (nil: none kept). `seed` fixes the shuffling order. Local training stops early, after at
    /// least one epoch, rather than run past `trainingDeadline` (see `Trainer.fit`).
    public func answer(
        _ task: FLTaskFrame, graph base: Graph, data: LocalData, residual: inout [Float]?, now: Int64, seed: UInt64,
        trainingDeadline: ContinuousClock.Instant? = nil
    ) throws(FederationError) -> Outcome {
        let t = task.task
        var graph = base
        let layout = ParameterLayout(graph: graph)
        guard layout.digest == t.layoutDigest else {
            throw FederationError(.shapeMismatch, "the task's layout \(t.layoutDigest.prefix(12)) is not the model's \(layout.digest.prefix(12))")
        }
        let global = try UpdateCodec.decode(task.payload, layout: layout)
        guard global.allSatisfy(\.isFinite) else { throw FederationError(.nonFinite, "the task's global parameters are not finite") }
        try layout.apply(global, to: &graph)
        let examples = data.targets.count
        let loss: Loss = if case .classes = data.targets { .softmaxCrossEntropy } else { .meanSquaredError }

        var evaluation: EvaluationResult?
        if examples > 0 {
            do {
                evaluation = try Evaluator(graph: graph, loss: loss).evaluate(data.feeds, data.targets)
            } catch {
                throw FederationError(.training, "evaluating the global parameters failed: \(error.message)")
            }
        }
        let started = ContinuousClock.now
        var reports: [EpochReport] = []
        var delta: [Float]?
        var payload: [UInt8] = []
        var encodingName = "float32"
        if t.kind == "fit" {
            guard examples >= t.minExamples else {
                throw FederationError(.training, "\(examples) labelled examples; the task needs \(t.minExamples)")
            }
            let optimizer: OptimizerConfig
            switch t.optimizer {
            case "sgd": optimizer = .sgd(learningRate: Float(t.learningRate))
            case "adam": optimizer = .adam(learningRate: Float(t.learningRate))
            default: throw FederationError(.invalidArgument, "unknown local optimizer '\(t.optimizer)' (sgd, adam)")
            }
            let config = TrainingConfig(
                epochs: t.localEpochs, batchSize: t.batchSize, optimizer: optimizer, loss: loss, seed: seed,
                proximalMu: Float(t.proximalMu ?? 0))
            do {
                reports = try Trainer(config: config).fit(
                    &graph, feeds: data.feeds, targets: data.targets, deadline: trainingDeadline)
            } catch {
                throw FederationError(.training, "local training failed: \(error.message)")
            }
            var d = try layout.flatten(graph)
            for i in 0..<d.count { d[i] -= global[i] }
            guard d.allSatisfy(\.isFinite) else { throw FederationError(.nonFinite, "local training produced a non-finite update") }
            if let bound = t.clipNorm { Self.clip(&d, to: Float(bound)) }
            let encoding = try UpdateEncoding(name: t.encoding, fraction: t.topKFraction)
            payload = try UpdateCodec.encode(d, layout: layout, as: encoding, residual: &residual)
            encodingName = encoding.name
            delta = d
        }
        let millis = Int64((started.duration(to: .now).seconds * 1000).rounded())
        let header = FLUpdateHeader(
            id: "\(t.id).\(device)", time: now, roundId: t.roundId, roundNumber: t.roundNumber, taskId: t.id,
            modelName: t.modelName, baseVersion: t.baseVersion, examples: delta == nil ? 0 : examples,
            epochs: reports.count, encoding: encodingName, payloadSize: payload.count,
            payloadSha256: PackageDigest.sha256(payload), keyId: keyId, layoutDigest: layout.digest,
            evalExamples: evaluation?.samples ?? 0,
            evalCorrect: evaluation.flatMap { e in e.accuracy.map { Int(($0 * Float(e.samples)).rounded()) } },
            evalLossMicros: evaluation.map { Self.micros($0.loss) },
            trainLossMicros: reports.last.map { Self.micros($0.trainLoss) }, trainMillis: millis)
        do {
            let signed = try SignedMessage(signing: header, with: key)
            return Outcome(
                frame: try FLUpdateFrame(header: signed, payload: payload), evaluation: evaluation, reports: reports,
                delta: delta)
        } catch {
            throw FederationError(.malformed, "the update could not be signed: \(error.message)")
        }
    }

    /// Scales `v` so that its L2 norm is at most `bound`.
    public static func clip(_ v: inout [Float], to bound: Float) {
        let norm = l2Norm(v)
        guard norm > bound, norm > 0 else { return }
        let k = bound / norm
        for i in 0..<v.count { v[i] *= k }
    }

    /// The L2 norm of `v`, accumulated in double precision.
    public static func l2Norm(_ v: [Float]) -> Float {
        var sum: Double = 0
        for x in v { sum += Double(x) * Double(x) }
        return Float(sum.squareRoot())
    }

    static func micros(_ x: Float) -> Int64 {
        guard x.isFinite else { return Int64.max }
        return Int64((Double(x) * 1_000_000).rounded())
    }
}
