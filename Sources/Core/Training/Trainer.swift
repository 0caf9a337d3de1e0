#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Settings of a training run.
public struct TrainingConfig: Codable, Sendable, Equatable {
    /// Passes over the training data.
    public var epochs: Int
    /// Samples per gradient step.
    public var batchSize: Int
    /// The update rule.
    public var optimizer: OptimizerConfig
    /// The loss to minimise.
    public var loss: Loss
    /// Seed of the shuffling order.
    public var seed: UInt64
    /// Clip the global gradient norm to this value, if set.
    public var clipNorm: Float?
    /// FedProx proximal coefficient μ: adds μ/2·‖w − w₀‖² with w₀ the starting weights.
    public var proximalMu: Float

    /// A configuration; defaults suit small tabular models.
    public init(
        epochs: Int = 30, batchSize: Int = 32, optimizer: OptimizerConfig = .adam(learningRate: 1e-3),
        loss: Loss = .softmaxCrossEntropy, seed: UInt64 = 1, clipNorm: Float? = nil, proximalMu: Float = 0
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.loss = loss
        self.seed = seed
        self.clipNorm = clipNorm
        self.proximalMu = proximalMu
    }
}

/// What one epoch achieved.
public struct EpochReport: Codable, Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    /// Mean training loss over the epoch's batches.
    public var trainLoss: Float
    /// Training accuracy over the epoch (classification only).
    public var trainAccuracy: Float?
    /// Loss on the validation data, if given.
    public var validationLoss: Float?
    /// Accuracy on the validation data, if given (classification only).
    public var validationAccuracy: Float?
    /// Wall time of the epoch in seconds.
    public var seconds: Double
}

/// Mini-batch gradient descent over a graph, with the same code on hub and device.
public struct Trainer: Sendable {
    /// The configuration of this trainer.
    public let config: TrainingConfig

    /// A trainer for `config`.
    public init(config: TrainingConfig) {
        self.config = config
    }

    /// The value the loss reads: the input of a final softmax for cross-entropy, else the output.
    public static func lossValue(of graph: Graph, loss: Loss) -> String {
        let output = graph.outputs[0]
        if loss == .softmaxCrossEntropy, let node = graph.producer(of: output), node.op == .softmax {
            return node.inputs[0]
        }
        return output
    }

    /// Trains `graph` in place on `feeds` (each [samples, ...]) and `targets`; reports each epoch.
    ///
    /// With a `deadline`, training stops early, after the first epoch, before an epoch that the
    /// previous one's duration says would end past it, so a time budget holds to within one
    /// epoch's error. The reports then number fewer than `config.epochs`.
    @discardableResult
    public func fit(
        _ graph: inout Graph, feeds: [String: Tensor], targets: Targets,
        validation: (feeds: [String: Tensor], targets: Targets)? = nil,
        deadline: ContinuousClock.Instant? = nil,
        progress: (EpochReport) -> Void = { _ in }
    ) throws(ModelError) -> [EpochReport] {
        let samples = targets.count
        guard samples > 0 else { throw ModelError(.invalidData, "no training samples") }
        for (name, tensor) in feeds where tensor.shape.first != samples {
            throw ModelError(.shapeMismatch, "input '\(name)' has \(tensor.shape.first ?? 0) rows, targets have \(samples)")
        }
        guard config.epochs >= 1, config.batchSize >= 1 else {
            throw ModelError(.invalidArgument, "epochs and batch size must be at least 1")
        }
        let lossValue = Self.lossValue(of: graph, loss: config.loss)
        let anchor = config.proximalMu > 0 ? graph.initializers : [:]
        var optimizer = config.optimizer.makeOptimizer()
        var random = RandomSource(seed: config.seed)
        var reports: [EpochReport] = []
        for epoch in 1...config.epochs {
            let started = ContinuousClock.now
            if let deadline, let last = reports.last, started + .seconds(last.seconds) > deadline { break }
            let order = random.permutation(samples)
            var lossSum: Double = 0
            var correct = 0
            var batches = 0
            for start in stride(from: 0, to: samples, by: config.batchSize) {
                let indices = Array(order[start..<min(start + config.batchSize, samples)])
                let batchFeeds = feeds.mapValues { $0.gatherRows(indices) }
                let batchTargets = targets.gather(indices)
                let runner = FloatRunner(unvalidated: graph)
                let pass = try runner.forward(batchFeeds, training: true, stopAfter: [lossValue])
                let output = pass.values[lossValue]!
                let (loss, seed) = try config.loss.evaluate(output, batchTargets)
                guard loss.isFinite else {
                    throw ModelError(.nonFinite, "training diverged at epoch \(epoch) (loss is \(loss)); lower the learning rate")
                }
                lossSum += Double(loss)
                batches += 1
                if case .classes(let labels) = batchTargets {
                    correct += zip(output.argmaxRows(), labels).filter { $0 == $1 }.count
                }
                var grads = runner.backward(pass, seeds: [lossValue: seed])
                if config.proximalMu > 0 { addProximal(&grads, graph: graph, anchor: anchor) }
                if let clip = config.clipNorm { Self.clip(&grads, to: clip) }
                optimizer.step(&graph.initializers, gradients: grads)
                for (name, stat) in pass.updatedStatistics { graph.initializers[name] = stat }
            }
            var report = EpochReport(
                epoch: epoch, trainLoss: Float(lossSum / Double(max(batches, 1))),
                trainAccuracy: targets.isClassification ? Float(correct) / Float(samples) : nil,
                validationLoss: nil, validationAccuracy: nil, seconds: 0)
            if let validation {
                let result = try Evaluator(graph: graph, loss: config.loss).evaluate(validation.feeds, validation.targets)
                report.validationLoss = result.loss
                report.validationAccuracy = result.accuracy
            }
            report.seconds = started.duration(to: .now).seconds
            reports.append(report)
            progress(report)
        }
        return reports
    }

    private func addProximal(_ grads: inout [String: Tensor], graph: Graph, anchor: [String: Tensor]) {
        for (name, g) in grads {
            guard let w = graph.initializers[name], let w0 = anchor[name] else { continue }
            var out = g
            for i in 0..<out.count { out.scalars[i] += config.proximalMu * (w.scalars[i] - w0.scalars[i]) }
            grads[name] = out
        }
    }

    /// Scales all gradients together so that their global L2 norm is at most `maxNorm`.
    public static func clip(_ grads: inout [String: Tensor], to maxNorm: Float) {
        var sum: Double = 0
        for g in grads.values { for v in g.scalars { sum += Double(v * v) } }
        let norm = Float(sum.squareRoot())
        guard norm > maxNorm, norm > 0 else { return }
        let k = maxNorm / norm
        for (name, g) in grads {
            var scaled = g
            for i in 0..<scaled.count { scaled.scalars[i] *= k }
            grads[name] = scaled
        }
    }
}

extension Targets {
    var isClassification: Bool {
        if case .classes = self { return true }
        return false
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) * 1e-18
    }
}
