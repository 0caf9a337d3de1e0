/// Observes the values a float graph computes on sample data and derives activation ranges.
struct Calibrator {
    let graph: Graph
    let method: CalibrationMethod
    var batchSize = 64
    static let bins = 2048

    /// Range [low, high] of every graph input and node output over `feeds`.
    func ranges(_ feeds: [String: Tensor], samples: Int) throws(ModelError) -> [String: (Float, Float)] {
        let runner = FloatRunner(unvalidated: graph)
        var lows: [String: Float] = [:]
        var highs: [String: Float] = [:]
        try forEachBatch(feeds, samples: samples, runner: runner) { values in
            for (name, t) in values {
                var lo = lows[name] ?? .infinity
                var hi = highs[name] ?? -.infinity
                for v in t.scalars {
                    lo = min(lo, v)
                    hi = max(hi, v)
                }
                lows[name] = lo
                highs[name] = hi
            }
        }
        guard case .percentile(let p) = method, p < 100 else {
            return lows.reduce(into: [:]) { $0[$1.key] = ($1.value, highs[$1.key]!) }
        }
        // Second pass: a histogram per value over its [min, max], then the percentiles.
        var histograms: [String: [Int]] = [:]
        try forEachBatch(feeds, samples: samples, runner: runner) { values in
            for (name, t) in values {
                let (lo, hi) = (lows[name]!, highs[name]!)
                var h = histograms[name] ?? [Int](repeating: 0, count: Self.bins)
                let k = hi > lo ? Float(Self.bins) / (hi - lo) : 0
                for v in t.scalars { h[min(Int((v - lo) * k), Self.bins - 1)] += 1 }
                histograms[name] = h
            }
        }
        var out: [String: (Float, Float)] = [:]
        for (name, h) in histograms {
            let (lo, hi) = (lows[name]!, highs[name]!)
            let total = h.reduce(0, +)
            let tail = Int((Double(total) * Double(100 - p) / 100).rounded(.down))
            let width = (hi - lo) / Float(Self.bins)
            var below = 0
            var low = lo
            for (i, c) in h.enumerated() {
                below += c
                if below > tail {
                    low = lo + Float(i) * width
                    break
                }
            }
            var above = 0
            var high = hi
            for (i, c) in h.enumerated().reversed() {
                above += c
                if above > tail {
                    high = lo + Float(i + 1) * width
                    break
                }
            }
            out[name] = (min(low, high), max(low, high))
        }
        return out
    }

    private func forEachBatch(
        _ feeds: [String: Tensor], samples: Int, runner: FloatRunner, _ body: ([String: Tensor]) -> Void
    ) throws(ModelError) {
        for start in stride(from: 0, to: samples, by: batchSize) {
            let range = start..<min(start + batchSize, samples)
            let pass = try runner.forward(feeds.mapValues { $0.rows(range) }, training: false)
            body(pass.values)
        }
    }
}
