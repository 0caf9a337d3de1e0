#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Server-side optimisers (Hsu et al., 2019; Reddi et al., 2021). Each takes the round's
/// example-weighted mean delta Δ̄ and moves `global` in place; moments are stored as Float, like
/// the float32 arrays of the reference implementation, and computed in Double.
extension AggregationMath {
    /// FedAvgM: the pseudo-gradient is −Δ̄; with momentum μ > 0, m ← μ·m − Δ̄ (m ← −Δ̄ on the
    /// first round); then global ← global − η·m (η·(−Δ̄) without momentum).
    public static func momentumStep(
        global: inout [Float], mean: [Double], momentum: inout [Float], firstRound: Bool,
        learningRate eta: Double, momentum mu: Double
    ) {
        if mu > 0, momentum.count != global.count { momentum = [Float](repeating: 0, count: global.count) }
        for i in 0..<global.count {
            var step = -mean[i]
            if mu > 0 {
                let m = firstRound ? Float(step) : Float(mu * Double(momentum[i]) + step)
                momentum[i] = m
                step = Double(m)
            }
            global[i] = Float(Double(global[i]) - eta * step)
        }
    }

    /// FedAdam: m ← β₁m + (1−β₁)Δ̄, v ← β₂v + (1−β₂)Δ̄², then
    /// global ← global + η·√(1−β₂^(t+1))/(1−β₁^(t+1)) · m/(√v + τ) for round t (from 1). The
    /// bias correction uses t + 1, as Flower 1.42 does.
    public static func adamStep(
        global: inout [Float], mean: [Double], m: inout [Float], v: inout [Float], round t: Int,
        eta: Double, beta1: Double, beta2: Double, tau: Double
    ) {
        let etaNorm = eta * (1 - pow(beta2, Double(t) + 1)).squareRoot() / (1 - pow(beta1, Double(t) + 1))
        adaptiveStep(global: &global, mean: mean, m: &m, v: &v, eta: etaNorm, beta1: beta1, tau: tau) { v, d in
            beta2 * v + (1 - beta2) * d * d
        }
    }

    /// FedYogi: as FedAdam without bias correction, with v ← v − (1−β₂)·Δ̄²·sign(v − Δ̄²).
    public static func yogiStep(
        global: inout [Float], mean: [Double], m: inout [Float], v: inout [Float], eta: Double, beta1: Double, beta2: Double,
        tau: Double
    ) {
        adaptiveStep(global: &global, mean: mean, m: &m, v: &v, eta: eta, beta1: beta1, tau: tau) { v, d in
            let d2 = d * d
            let s = v - d2
            return v - (1 - beta2) * d2 * (s > 0 ? 1 : (s < 0 ? -1 : 0))
        }
    }

    /// FedAdagrad: m ← β₁m + (1−β₁)Δ̄ (β₁ = 0 in Flower, so m = Δ̄), v ← v + Δ̄²,
    /// global ← global + η·m/(√v + τ).
    public static func adagradStep(
        global: inout [Float], mean: [Double], m: inout [Float], v: inout [Float], eta: Double, beta1: Double, tau: Double
    ) {
        adaptiveStep(global: &global, mean: mean, m: &m, v: &v, eta: eta, beta1: beta1, tau: tau) { v, d in v + d * d }
    }

    private static func adaptiveStep(
        global: inout [Float], mean: [Double], m: inout [Float], v: inout [Float], eta: Double, beta1: Double, tau: Double,
        second: (Double, Double) -> Double
    ) {
        let n = global.count
        if m.count != n { m = [Float](repeating: 0, count: n) }
        if v.count != n { v = [Float](repeating: 0, count: n) }
        for i in 0..<n {
            let d = mean[i]
            let mi = Float(beta1 * Double(m[i]) + (1 - beta1) * d)
            let vi = Float(second(Double(v[i]), d))
            m[i] = mi
            v[i] = vi
            global[i] = Float(Double(global[i]) + eta * Double(mi) / (Double(vi).squareRoot() + tau))
        }
    }
}
