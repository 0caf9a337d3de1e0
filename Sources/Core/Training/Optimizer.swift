#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How parameters move along their gradients.
public enum OptimizerConfig: Codable, Sendable, Equatable {
    /// Stochastic gradient descent with (optionally Nesterov) momentum and L2 weight decay.
    case sgd(learningRate: Float, momentum: Float = 0, nesterov: Bool = false, weightDecay: Float = 0)
    /// Adam; weight decay is decoupled (AdamW) when `decoupled`, else added to the gradient.
    case adam(
        learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0,
        decoupled: Bool = true)

    /// A fresh optimizer state for this configuration.
    public func makeOptimizer() -> Optimizer { Optimizer(config: self) }
}

/// Optimizer state (moments per parameter) and the update rule.
public struct Optimizer: Sendable {
    /// The configuration the state belongs to.
    public let config: OptimizerConfig
    private var first: [String: [Float]] = [:]
    private var second: [String: [Float]] = [:]
    private var steps = 0

    /// An optimizer with empty state.
    public init(config: OptimizerConfig) {
        self.config = config
    }

    /// Applies one update to every parameter that has a gradient.
    public mutating func step(_ parameters: inout [String: Tensor], gradients: [String: Tensor]) {
        steps += 1
        for name in gradients.keys.sorted() {
            guard var p = parameters[name], let g = gradients[name] else { continue }
            update(name, &p.scalars, g.scalars)
            parameters[name] = p
        }
    }

    private mutating func update(_ name: String, _ w: inout [Float], _ g: [Float]) {
        switch config {
        case .sgd(let lr, let momentum, let nesterov, let decay):
            if momentum == 0 {
                for i in 0..<w.count { w[i] -= lr * (g[i] + decay * w[i]) }
                return
            }
            var v = first[name] ?? [Float](repeating: 0, count: w.count)
            for i in 0..<w.count {
                let gi = g[i] + decay * w[i]
                v[i] = momentum * v[i] + gi
                w[i] -= lr * (nesterov ? gi + momentum * v[i] : v[i])
            }
            first[name] = v
        case .adam(let lr, let b1, let b2, let eps, let decay, let decoupled):
            var m = first[name] ?? [Float](repeating: 0, count: w.count)
            var v = second[name] ?? [Float](repeating: 0, count: w.count)
            let c1 = 1 - pow(b1, Float(steps))
            let c2 = 1 - pow(b2, Float(steps))
            for i in 0..<w.count {
                let gi = decoupled ? g[i] : g[i] + decay * w[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                let mhat = m[i] / c1
                let vhat = v[i] / c2
                w[i] -= lr * (mhat / (vhat.squareRoot() + eps) + (decoupled ? decay * w[i] : 0))
            }
            first[name] = m
            second[name] = v
        }
    }
}
