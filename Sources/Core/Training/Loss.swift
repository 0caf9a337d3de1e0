#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a model is trained to predict.
public enum Targets: Sendable, Equatable {
    /// Class indices, one per sample (classification).
    case classes([Int])
    /// Target values [batch, outputs] (regression).
    case values(Tensor)

    /// Number of samples.
    public var count: Int {
        switch self {
        case .classes(let c): c.count
        case .values(let t): t.shape.first ?? 0
        }
    }

    /// The targets of the samples at `indices`.
    public func gather(_ indices: [Int]) -> Targets {
        switch self {
        case .classes(let c): .classes(indices.map { c[$0] })
        case .values(let t): .values(t.gatherRows(indices))
        }
    }
}

/// Training losses.
public enum Loss: String, Codable, Sendable {
    /// Softmax cross-entropy on logits, mean over the batch.
    case softmaxCrossEntropy = "cross_entropy"
    /// Mean squared error over all elements.
    case meanSquaredError = "mse"

    /// The mean loss and its gradient with respect to `output` (logits for cross-entropy).
    public func evaluate(_ output: Tensor, _ targets: Targets) throws(ModelError) -> (Float, Tensor) {
        switch (self, targets) {
        case (.softmaxCrossEntropy, .classes(let labels)):
            return try Self.crossEntropy(logits: output, labels: labels)
        case (.meanSquaredError, .values(let target)):
            guard target.shape == output.shape else {
                throw ModelError(.shapeMismatch, "targets \(target.shape) do not match outputs \(output.shape)")
            }
            var grad = [Float](repeating: 0, count: output.count)
            var sum: Double = 0
            let scale = 2 / Float(max(output.count, 1))
            for i in 0..<output.count {
                let d = output.scalars[i] - target.scalars[i]
                sum += Double(d * d)
                grad[i] = scale * d
            }
            return (Float(sum / Double(max(output.count, 1))), Tensor(shape: output.shape, scalars: grad))
        case (.meanSquaredError, .classes(let labels)):
            guard let width = output.shape.last else { throw ModelError(.shapeMismatch, "output has no columns") }
            var oneHot = Tensor(shape: output.shape)
            for (r, label) in labels.enumerated() where label >= 0 && label < width { oneHot.scalars[r * width + label] = 1 }
            return try evaluate(output, .values(oneHot))
        case (.softmaxCrossEntropy, .values):
            throw ModelError(.invalidArgument, "cross-entropy needs class labels, not real-valued targets")
        }
    }

    /// Numerically stable softmax cross-entropy.
    static func crossEntropy(logits: Tensor, labels: [Int]) throws(ModelError) -> (Float, Tensor) {
        guard logits.rank == 2, logits.shape[0] == labels.count else {
            throw ModelError(.shapeMismatch, "logits \(logits.shape) do not match \(labels.count) labels")
        }
        let (n, c) = (logits.shape[0], logits.shape[1])
        var grad = [Float](repeating: 0, count: n * c)
        var total: Double = 0
        for r in 0..<n {
            let label = labels[r]
            guard label >= 0 && label < c else {
                throw ModelError(.invalidData, "label \(label) is outside the model's \(c) classes")
            }
            var top = -Float.infinity
            for j in 0..<c { top = max(top, logits.scalars[r * c + j]) }
            var sum: Float = 0
            for j in 0..<c {
                let e = expf(logits.scalars[r * c + j] - top)
                grad[r * c + j] = e
                sum += e
            }
            total += Double(logf(sum) + top - logits.scalars[r * c + label])
            let inv = 1 / (sum * Float(n))
            for j in 0..<c { grad[r * c + j] *= inv }
            grad[r * c + label] -= 1 / Float(n)
        }
        return (Float(total / Double(max(n, 1))), Tensor(shape: logits.shape, scalars: grad))
    }
}
