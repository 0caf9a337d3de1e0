/// The arithmetic of the aggregation strategies as pure functions on flat vectors, so each can be
/// tested on its own and the strategy types stay thin. Vectors are deltas (trained − global);
/// the results are deltas to add to the global.
public enum AggregationMath {
    // MARK: - Checks

    /// Refuses an update that cannot be aggregated into a model of `parameters` values: a wrong
    /// length, no examples, or a NaN or infinity.
    public static func validate(_ update: ClientUpdate, parameters: Int) throws(FederationError) {
        guard update.delta.count == parameters else {
            throw FederationError(
                .shapeMismatch, "update from \(update.client) has \(update.delta.count) values; the model has \(parameters)")
        }
        guard update.examples > 0 else {
            throw FederationError(.invalidArgument, "update from \(update.client) reports \(update.examples) examples")
        }
        guard allFinite(update.delta) else {
            throw FederationError(.nonFinite, "update from \(update.client) holds NaN or infinity")
        }
    }

    /// Whether every value is finite. An all-ones exponent plus one carries into the sign bit;
    /// OR-ing those bits is a reduction that vectorises even on baseline SSE2.
    public static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UInt32.self) { bits in
                var carry: UInt32 = 0
                for b in bits { carry |= (b & 0x7F80_0000) &+ 0x0080_0000 }
                return carry & 0x8000_0000 == 0
            }
        }
    }

    // MARK: - Means

    /// The example-weighted mean of `vectors` (FedAvg), in Double.
    public static func weightedMean(_ vectors: [[Float]], weights: [Double]) -> [Double] {
        precondition(vectors.count == weights.count && !vectors.isEmpty, "weightedMean: one weight per vector")
        var sum = WeightedSum(parameters: vectors[0].count)
        for (v, w) in zip(vectors, weights) { sum.add(v, weight: w) }
        return sum.mean() ?? []
    }

    /// The coordinate-wise median (Yin et al., 2018); the mean of the two middle values when the
    /// count is even. Unweighted.
    public static func coordinateMedian(_ vectors: [[Float]]) -> [Float] {
        coordinatewise(vectors) { column in
            let n = column.count
            return n % 2 == 1 ? Double(column[n / 2]) : (Double(column[n / 2 - 1]) + Double(column[n / 2])) / 2
        }
    }

    /// The coordinate-wise trimmed mean (Yin et al., 2018): per coordinate, drop the
    /// ⌊beta · n⌋ smallest and as many largest values and average the rest. Unweighted;
    /// `beta` in [0, 0.5).
    public static func trimmedMean(_ vectors: [[Float]], beta: Double) -> [Float] {
        let cut = Int(beta * Double(vectors.count))
        return coordinatewise(vectors) { column in
            var total = 0.0
            for v in column[cut..<(column.count - cut)] { total += Double(v) }
            return total / Double(column.count - 2 * cut)
        }
    }

    /// Applies `reduce` to each coordinate's values, sorted ascending.
    private static func coordinatewise(_ vectors: [[Float]], _ reduce: (ArraySlice<Float>) -> Double) -> [Float] {
        guard let first = vectors.first else { return [] }
        var column = [Float](repeating: 0, count: vectors.count)
        var out = [Float](repeating: 0, count: first.count)
        for i in 0..<first.count {
            for k in 0..<vectors.count { column[k] = vectors[k][i] }
            column.sort()
            out[i] = Float(reduce(column[...]))
        }
        return out
    }

    // MARK: - Krum

    /// The matrix of squared L2 distances between `vectors`.
    public static func squaredDistances(_ vectors: [[Float]]) -> [[Double]] {
        let n = vectors.count
        var d = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) {
                var s = 0.0
                vectors[i].withUnsafeBufferPointer { a in
                    vectors[j].withUnsafeBufferPointer { b in
                        for k in 0..<a.count {
                            let e = Double(a[k]) - Double(b[k])
                            s += e * e
                        }
                    }
                }
                d[i][j] = s
                d[j][i] = s
            }
        }
        return d
    }

    /// Krum's score of each vector (Blanchard et al., 2017): the sum of its squared distances to
    /// its n − f − 2 nearest others (at least one), `f` being the number of malicious clients.
    public static func krumScores(distances: [[Double]], malicious f: Int) -> [Double] {
        let n = distances.count
        let closest = max(1, n - f - 2)
        return (0..<n).map { i in
            // Stable order by distance, self excluded (numpy's argsort puts self, at 0, first).
            let others = (0..<n).filter { $0 != i }.sorted { (distances[i][$0], $0) < (distances[i][$1], $1) }
            return others.prefix(closest).reduce(0) { $0 + distances[i][$1] }
        }
    }

    /// The indices Krum keeps: the best-scored one when `keep` is 0, else the `keep` lowest
    /// scores (Multi-Krum, whose kept updates are then averaged by examples).
    public static func krumSelection(scores: [Double], keep: Int) -> [Int] {
        let order = scores.indices.sorted { (scores[$0], $0) < (scores[$1], $1) }
        return Array(order.prefix(max(1, keep)))
    }

    // MARK: - Nearest-neighbour mixing

    /// Nearest-neighbour mixing (Allouah et al., 2023, "Fixing by Mixing"): each vector is
    /// replaced by the mean of its n − f nearest vectors (itself included, ties by index). A
    /// pre-aggregation step: it shrinks the spread of honest vectors that differ because their
    /// data do (non-IID), so that a robust rule after it (median, trimmed mean, Krum) is no
    /// longer dragged by attackers hiding in that spread. O(n² · d).
    public static func nearestNeighbourMixing(_ vectors: [[Float]], malicious f: Int) -> [[Float]] {
        let n = vectors.count
        let keep = max(1, n - f)
        guard n > 1 else { return vectors }
        let distances = squaredDistances(vectors)
        return (0..<n).map { i in
            let nearest = (0..<n).sorted { (distances[i][$0], $0) < (distances[i][$1], $1) }.prefix(keep)
            return mean(nearest.map { vectors[$0] })
        }
    }

    /// `vectors` after nearest-neighbour mixing against `f` malicious clients; unchanged when f is 0.
    static func mixed(_ vectors: [[Float]], malicious f: Int) -> [[Float]] {
        f > 0 ? nearestNeighbourMixing(vectors, malicious: f) : vectors
    }

    /// The element-wise mean of `vectors` (all of one length), summed in Double.
    static func mean(_ vectors: [[Float]]) -> [Float] {
        guard let first = vectors.first else { return [] }
        var sum = [Double](repeating: 0, count: first.count)
        for v in vectors {
            for k in 0..<v.count { sum[k] += Double(v[k]) }
        }
        let n = Double(vectors.count)
        return sum.map { Float($0 / n) }
    }

    // MARK: - Clipping

    /// The L2 norm of `values`, in Double.
    public static func l2Norm(_ values: [Float]) -> Double {
        var s = 0.0
        for v in values { s += Double(v) * Double(v) }
        return s.squareRoot()
    }

    /// `values` scaled by min(1, bound / ‖values‖) (flat clipping) and whether it was scaled down.
    public static func clipped(_ values: [Float], to bound: Double) -> (values: [Float], clipped: Bool) {
        let norm = l2Norm(values)
        guard norm > bound else { return (values, false) }
        let scale = bound / norm
        return (values.map { Float(Double($0) * scale) }, true)
    }
}
