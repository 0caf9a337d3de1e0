/// A running example-weighted sum of deltas, the whole state of a linear strategy's open round:
/// O(parameters) memory however many updates arrive. Sums are kept in Double so the order in
/// which updates arrive changes the result only in the last bits.
public struct WeightedSum: Sendable, Equatable {
    /// Σ weightᵢ · deltaᵢ, per parameter.
    public private(set) var sum: [Double]
    /// Σ weightᵢ.
    public private(set) var totalWeight: Double = 0
    /// Updates added.
    public private(set) var count = 0

    /// An empty sum over `parameters` values.
    public init(parameters: Int) {
        sum = [Double](repeating: 0, count: parameters)
    }

    /// Adds `delta` with `weight`; `delta` must have `sum.count` values (checked by the caller).
    public mutating func add(_ delta: [Float], weight: Double) {
        precondition(delta.count == sum.count, "WeightedSum.add: length mismatch")
        delta.withUnsafeBufferPointer { d in
            sum.withUnsafeMutableBufferPointer { s in Self.accumulate(d, into: s, weight: weight) }
        }
        totalWeight += weight
        count += 1
    }

    /// s += w · d, the hot loop of every linear strategy (vectorised by the compiler).
    @inline(__always)
    static func accumulate(_ d: UnsafeBufferPointer<Float>, into s: UnsafeMutableBufferPointer<Double>, weight w: Double) {
        guard var dp = d.baseAddress, var sp = s.baseAddress else { return }
        var n = d.count
        while n >= 8 {
            sp[0] += w * Double(dp[0]); sp[1] += w * Double(dp[1])
            sp[2] += w * Double(dp[2]); sp[3] += w * Double(dp[3])
            sp[4] += w * Double(dp[4]); sp[5] += w * Double(dp[5])
            sp[6] += w * Double(dp[6]); sp[7] += w * Double(dp[7])
            dp += 8; sp += 8; n -= 8
        }
        for i in 0..<n { sp[i] += w * Double(dp[i]) }
    }

    /// The weighted mean, or nil when nothing (or only zero weight) was added.
    public func mean() -> [Double]? {
        guard totalWeight > 0 else { return nil }
        let scale = 1 / totalWeight
        return sum.map { $0 * scale }
    }

    /// Restores a sum read from a snapshot.
    init(sum: [Double], totalWeight: Double, count: Int) {
        self.sum = sum
        self.totalWeight = totalWeight
        self.count = count
    }
}

extension WeightedSum {
    func write(to writer: inout SnapshotWriter) {
        writer.doubles(sum)
        writer.double(totalWeight)
        writer.int(count)
    }

    static func read(from reader: inout SnapshotReader) throws(FederationError) -> WeightedSum {
        WeightedSum(sum: try reader.doubles(), totalWeight: try reader.double(), count: try reader.int())
    }
}
