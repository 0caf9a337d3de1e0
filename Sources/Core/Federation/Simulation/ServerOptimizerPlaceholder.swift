/// TEMPORARY, simulation only: a server optimizer over FedAvg's mean delta, until the strategy
/// module's FedAvgM / FedAdam / FedYogi land on this branch (the lead swaps this type for them
/// through `StrategyConfiguration.makeStrategy()`; nothing outside the simulation uses it).
///
/// - `momentum`: FedAvgM (Hsu et al., 2019): v ← β·v + Δ, w ← w + η·v.
/// - `adam`: FedAdam (Reddi et al., 2021): m ← β₁m + (1−β₁)Δ, v ← β₂v + (1−β₂)Δ²,
///   w ← w + η·m / (√v + τ).
/// - `yogi`: FedYogi, as `adam` but v ← v − (1−β₂)·Δ²·sign(v − Δ²).
public struct ServerOptimizerPlaceholder: AggregationStrategy {
    /// The server update rule.
    public enum Rule: Sendable, Equatable {
        /// Heavy-ball momentum.
        case momentum(Float)
        /// Adam with β₁, β₂, τ.
        case adam(beta1: Float, beta2: Float, tau: Float)
        /// Yogi with β₁, β₂, τ.
        case yogi(beta1: Float, beta2: Float, tau: Float)
    }

    /// The rule.
    public let rule: Rule
    /// The server learning rate η.
    public let serverLearningRate: Float
    private var mean = FedAvg()
    private var global: [Float] = []
    private var first: [Float] = []
    private var second: [Float] = []

    /// `fedavgm`, `fedadam` or `fedyogi`.
    public var name: String {
        switch rule {
        case .momentum: "fedavgm"
        case .adam: "fedadam"
        case .yogi: "fedyogi"
        }
    }

    /// Updates added since `beginRound`.
    public var updateCount: Int { mean.updateCount }

    /// A server optimizer; throws `invalidArgument` for a non-positive rate or a β out of [0, 1).
    public init(_ rule: Rule, serverLearningRate: Float) throws(FederationError) {
        let betas: [Float]
        switch rule {
        case .momentum(let b): betas = [b]
        case .adam(let b1, let b2, let tau), .yogi(let b1, let b2, let tau):
            guard tau > 0 else { throw FederationError(.invalidArgument, "tau must be positive") }
            betas = [b1, b2]
        }
        guard betas.allSatisfy({ $0 >= 0 && $0 < 1 }) else {
            throw FederationError(.invalidArgument, "server betas and momentum must be in [0, 1)")
        }
        guard serverLearningRate > 0, serverLearningRate.isFinite else {
            throw FederationError(.invalidArgument, "the server learning rate must be positive")
        }
        self.rule = rule
        self.serverLearningRate = serverLearningRate
    }

    /// Starts a round from `global`.
    public mutating func beginRound(global: [Float]) throws(FederationError) {
        self.global = global
        if first.count != global.count {
            first = [Float](repeating: 0, count: global.count)
            second = first
        }
        try mean.beginRound(global: global)
    }

    /// Adds `update` to the round's weighted mean.
    public mutating func add(_ update: ClientUpdate) throws(FederationError) { try mean.add(update) }

    /// The global moved by the rule along the round's mean delta.
    public mutating func finishRound() throws(FederationError) -> [Float] {
        let averaged = try mean.finishRound()
        let eta = serverLearningRate
        var out = global
        for i in 0..<out.count {
            let d = averaged[i] - global[i]
            switch rule {
            case .momentum(let beta):
                first[i] = beta * first[i] + d
                out[i] += eta * first[i]
            case .adam(let b1, let b2, let tau):
                first[i] = b1 * first[i] + (1 - b1) * d
                second[i] = b2 * second[i] + (1 - b2) * d * d
                out[i] += eta * first[i] / (second[i].squareRoot() + tau)
            case .yogi(let b1, let b2, let tau):
                first[i] = b1 * first[i] + (1 - b1) * d
                let d2 = d * d
                second[i] -= (1 - b2) * d2 * (second[i] - d2 > 0 ? 1 : second[i] - d2 < 0 ? -1 : 0)
                out[i] += eta * first[i] / (second[i].squareRoot() + tau)
            }
        }
        global = out
        return out
    }

    /// Not persisted (simulation only).
    public func snapshot() -> [UInt8] { [] }

    /// Restores nothing (simulation only).
    public mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {}
}
