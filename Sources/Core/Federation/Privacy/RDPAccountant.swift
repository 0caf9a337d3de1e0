#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Rényi-DP accounting for the Poisson-subsampled Gaussian mechanism (Mironov, 2017; Mironov,
/// Talwar and Zhang, 2019): each round with sampling rate q and noise multiplier σ adds its RDP
/// at every order α, and (ε, δ) is read off the best order with the conversion of Canonne,
/// Kamath and Steinke (2020), as Google's `dp-accounting` `RdpAccountant` does.
public struct RDPAccountant: Sendable, Equatable {
    /// `dp-accounting`'s default orders: 1.1 to 10.9 by 0.1, 11 to 63, and 128 to 1024.
    public static let defaultOrders: [Double] =
        (1..<100).map { 1 + Double($0) / 10 } + (11..<64).map(Double.init) + [128, 256, 512, 1024]

    /// The orders α tracked.
    public let orders: [Double]
    /// The accumulated RDP at each order.
    public private(set) var rdp: [Double]

    /// An accountant that has spent nothing.
    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        self.orders = orders
        rdp = [Double](repeating: 0, count: orders.count)
    }

    /// Adds `steps` rounds of the Gaussian mechanism with noise multiplier σ, each client sampled
    /// with probability q (q = 1: every round uses everyone).
    public mutating func compose(noiseMultiplier sigma: Double, samplingRate q: Double, steps: Int = 1) {
        precondition(q >= 0 && q <= 1 && sigma >= 0 && steps >= 0, "RDPAccountant.compose: q in [0, 1], σ ≥ 0")
        for (k, alpha) in orders.enumerated() {
            rdp[k] += Double(steps) * Self.rdp(noiseMultiplier: sigma, samplingRate: q, order: alpha)
        }
    }

    /// The smallest ε over the orders for which the composition is (ε, δ)-DP, and that order.
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        precondition(delta >= 0 && delta <= 1, "RDPAccountant.epsilon: δ in [0, 1]")
        if delta == 0 { return (rdp.allSatisfy { $0 == 0 } ? 0 : .infinity, 0) }
        var best = (epsilon: Double.infinity, order: orders.first ?? 0)
        for (alpha, r) in zip(orders, rdp) {
            let eps: Double
            if r < 0 || delta * delta + expm1(-r) > 0 {
                eps = 0
            } else if alpha > 1.01 {
                eps = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
            } else {
                eps = .infinity
            }
            if eps < best.epsilon { best = (eps, alpha) }
        }
        return (max(0, best.epsilon), best.order)
    }

    /// The RDP of one round at order α.
    public static func rdp(noiseMultiplier sigma: Double, samplingRate q: Double, order alpha: Double) -> Double {
        if q == 0 { return 0 }
        if alpha.isInfinite || sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        let logA = alpha == alpha.rounded() ? logAInteger(q, sigma, Int(alpha)) : logAFractional(q, sigma, alpha)
        return logA / (alpha - 1)
    }

    // MARK: - log A_α (Mironov, Talwar and Zhang, 2019)

    private static func logAInteger(_ q: Double, _ sigma: Double, _ alpha: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q), log1mq = log1p(-q)
        for i in 0...alpha {
            let x = Double(i)
            let s = logBinomial(Double(alpha), x) + x * logQ + Double(alpha - i) * log1mq + (x * x - x) / (2 * sigma * sigma)
            logA = logAdd(logA, s)
        }
        return logA
    }

    private static func logAFractional(_ q: Double, _ sigma: Double, _ alpha: Double) -> Double {
        var a0 = -Double.infinity, a1 = -Double.infinity
        var last0 = -Double.infinity, last1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let logQ = log(q), log1mq = log1p(-q), root2Sigma = 2.0.squareRoot() * sigma
        for step in 0..<1000 {
            let i = Double(step), j = alpha - i
            let logCoef = logBinomial(alpha, i)
            let t0 = logCoef + i * logQ + j * log1mq
            let t1 = logCoef + j * logQ + i * log1mq
            let e0 = log(0.5) + logErfc((i - z0) / root2Sigma)
            let e1 = log(0.5) + logErfc((z0 - j) / root2Sigma)
            let s0 = t0 + (i * i - i) / (2 * sigma * sigma) + e0
            let s1 = t1 + (j * j - j) / (2 * sigma * sigma) + e1
            a0 = logAdd(a0, s0)
            a1 = logAdd(a1, s1)
            let total = logAdd(a0, a1)
            if s0 < last0, s1 < last1, max(s0, s1) < total - 30 { return total }
            (last0, last1) = (s0, s1)
        }
        return .infinity  // did not converge: the order is left out of the minimum
    }

    /// log |C(n, k)| for real n, k.
    private static func logBinomial(_ n: Double, _ k: Double) -> Double {
        lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)
    }

    private static func logAdd(_ x: Double, _ y: Double) -> Double {
        let (a, b) = (min(x, y), max(x, y))
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log(erfc(x)), accurate where erfc underflows (an asymptotic series past x = 25).
    static func logErfc(_ x: Double) -> Double {
        if x < 25 { return log(erfc(x)) }
        let r = 1 / (x * x)
        let series = 1 - r / 2 + 3 * r * r / 4 - 15 * r * r * r / 8 + 105 * r * r * r * r / 16
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
