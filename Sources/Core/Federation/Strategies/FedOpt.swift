/// The state the adaptive server optimisers share (Reddi et al., 2021, "Adaptive Federated
/// Optimization"): settings, the round counter, first and second moments and the open round.
struct FedOpt: Sendable {
    enum Rule: String, Sendable { case adam = "fedadam", yogi = "fedyogi", adagrad = "fedadagrad" }

    let rule: Rule
    let eta: Double, etaL: Double, beta1: Double, beta2: Double, tau: Double
    private(set) var round = 1
    private var m: [Float] = []
    private var v: [Float] = []
    private var open = StreamingRound()

    init(_ rule: Rule, eta: Double, etaL: Double, beta1: Double, beta2: Double, tau: Double) throws(FederationError) {
        for (key, value) in [("eta", eta), ("eta_l", etaL), ("tau", tau)] where !(value > 0 && value.isFinite) {
            throw FederationError(.invalidArgument, "\(key) must be > 0, got \(value)")
        }
        for (key, value) in [("beta_1", beta1), ("beta_2", beta2)] where !(value >= 0 && value < 1) {
            throw FederationError(.invalidArgument, "\(key) must be in [0, 1), got \(value)")
        }
        (self.rule, self.eta, self.etaL, self.beta1, self.beta2, self.tau) = (rule, eta, etaL, beta1, beta2, tau)
    }

    var updateCount: Int { open.count }
    mutating func beginRound(global: [Float]) { open.begin(global) }
    mutating func add(_ update: ClientUpdate) throws(FederationError) { try open.add(update) }

    mutating func finishRound() throws(FederationError) -> [Float] {
        var (global, mean) = try open.finish()
        switch rule {
        case .adam:
            AggregationMath.adamStep(
                global: &global, mean: mean, m: &m, v: &v, round: round, eta: eta, beta1: beta1, beta2: beta2, tau: tau)
        case .yogi:
            AggregationMath.yogiStep(global: &global, mean: mean, m: &m, v: &v, eta: eta, beta1: beta1, beta2: beta2, tau: tau)
        case .adagrad:
            AggregationMath.adagradStep(global: &global, mean: mean, m: &m, v: &v, eta: eta, beta1: beta1, tau: tau)
        }
        round += 1
        return global
    }

    func snapshot() -> [UInt8] {
        var w = SnapshotWriter(name: rule.rawValue)
        for value in [eta, etaL, beta1, beta2, tau] { w.double(value) }
        w.int(round)
        w.floats(m)
        w.floats(v)
        open.write(to: &w)
        return w.bytes
    }

    mutating func restore(_ snapshot: [UInt8]) throws(FederationError) {
        var r = try SnapshotReader(snapshot, name: rule.rawValue)
        for (value, key) in [(eta, "eta"), (etaL, "eta_l"), (beta1, "beta_1"), (beta2, "beta_2"), (tau, "tau")] {
            try r.expect(value, key)
        }
        let round = try r.int()
        let m = try r.floats()
        let v = try r.floats()
        let open = try StreamingRound.read(from: &r)
        try r.finish()
        (self.round, self.m, self.v, self.open) = (round, m, v, open)
    }
}
