#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Counts for one class of a classification evaluation.
public struct ClassCounts: Codable, Sendable, Equatable {
    /// Class index.
    public var label: Int
    /// Samples whose true class is this one.
    public var support: Int
    /// Of those, correctly predicted.
    public var correct: Int
    /// Samples predicted as this class.
    public var predicted: Int
}

/// Metrics of a model on a labelled data set.
public struct EvaluationResult: Codable, Sendable, Equatable {
    /// Number of samples evaluated.
    public var samples: Int
    /// Mean loss (cross-entropy or MSE).
    public var loss: Float
    /// Fraction of correct argmax predictions (classification).
    public var accuracy: Float?
    /// Per-class counts (classification).
    public var perClass: [ClassCounts]?
    /// confusion[true][predicted] (classification).
    public var confusion: [[Int]]?

    /// Metrics from model outputs and targets. `outputsAreProbabilities` selects the
    /// cross-entropy form for classification.
    public static func compute(
        outputs: Tensor, targets: Targets, loss: Loss, outputsAreProbabilities: Bool
    ) throws(ModelError) -> EvaluationResult {
        guard case .classes(let labels) = targets else {
            let (value, _) = try loss.evaluate(outputs, targets)
            return EvaluationResult(samples: targets.count, loss: value)
        }
        let classes = outputs.shape.last ?? 0
        var value: Float
        if loss == .softmaxCrossEntropy && outputsAreProbabilities {
            var total: Double = 0
            for (r, label) in labels.enumerated() {
                guard label >= 0 && label < classes else {
                    throw ModelError(.invalidData, "label \(label) is outside the model's \(classes) classes")
                }
                total -= Double(logf(max(outputs.scalars[r * classes + label], 1e-7)))
            }
            value = Float(total / Double(max(labels.count, 1)))
        } else {
            value = try loss.evaluate(outputs, targets).0
        }
        let predictions = outputs.argmaxRows()
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, t) in zip(predictions, labels) where t >= 0 && t < classes { confusion[t][p] += 1 }
        let perClass = (0..<classes).map { c in
            ClassCounts(
                label: c, support: confusion[c].reduce(0, +), correct: confusion[c][c],
                predicted: confusion.reduce(0) { $0 + $1[c] })
        }
        let correct = perClass.reduce(0) { $0 + $1.correct }
        return EvaluationResult(
            samples: labels.count, loss: value, accuracy: Float(correct) / Float(max(labels.count, 1)),
            perClass: perClass, confusion: confusion)
    }
}

/// Evaluates a float graph in batches.
public struct Evaluator: Sendable {
    /// The graph evaluated.
    public let graph: Graph
    /// The loss reported.
    public let loss: Loss
    /// Samples per forward pass.
    public var batchSize = 256

    /// An evaluator of `graph` with `loss`.
    public init(graph: Graph, loss: Loss) {
        self.graph = graph
        self.loss = loss
    }

    /// Runs the graph over all samples and computes metrics on the loss value.
    public func evaluate(_ feeds: [String: Tensor], _ targets: Targets) throws(ModelError) -> EvaluationResult {
        let value = Trainer.lossValue(of: graph, loss: loss)
        let runner = FloatRunner(unvalidated: graph)
        var parts: [Tensor] = []
        let samples = targets.count
        for start in stride(from: 0, to: samples, by: batchSize) {
            let range = start..<min(start + batchSize, samples)
            let pass = try runner.forward(feeds.mapValues { $0.rows(range) }, training: false, stopAfter: [value])
            parts.append(pass.values[value]!)
        }
        // The loss value is the softmax's input (logits) when the graph ends in a softmax.
        return try EvaluationResult.compute(
            outputs: Tensor.concatenateRows(parts), targets: targets, loss: loss, outputsAreProbabilities: false)
    }
}

extension Tensor {
    /// Stacks tensors with equal trailing dimensions along the first axis.
    public static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(shape: [0], scalars: []) }
        var shape = first.shape
        shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
        var scalars: [Float] = []
        scalars.reserveCapacity(shape.reduce(1, *))
        for part in parts { scalars.append(contentsOf: part.scalars) }
        return Tensor(shape: shape, scalars: scalars)
    }
}
