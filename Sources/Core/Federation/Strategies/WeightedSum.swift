/// A running example-weighted sum of deltas, the whole state of a linear strategy's open round:
/// O(parameters) memory however many updates arrive. Updates are summed in Float in blocks of
/// `blockSize` (four values per SIMD lane instead of two), and each block is folded into a
/// Double total, so rounding error grows with the block, not with the number of clients.
public struct WeightedSum: Sendable, Equatable {
    /// Updates summed in Float before the block is folded into the Double total.
    public static let blockSize = 32
    private var total: [Double]
    private var block: [Float]
    private var pending = 0
    /// Σ weightᵢ.
    public private(set) var totalWeight: Double = 0
    /// Updates added.
    public private(set) var count = 0

    /// An empty sum over `parameters` values.
    public init(parameters: Int) {
        total = [Double](repeating: 0, count: parameters)
        block = [Float](repeating: 0, count: parameters)
    }

    /// Values summed.
    public var parameters: Int { total.count }

    /// Adds `delta` with `weight`; `delta` must have `parameters` values (checked by the caller).
    public mutating func add(_ delta: [Float], weight: Double) {
        precondition(delta.count == total.count, "WeightedSum.add: length mismatch")
        let w = Float(weight)
        delta.withUnsafeBufferPointer { d in
            block.withUnsafeMutableBufferPointer { b in
                guard let dp = d.baseAddress, let bp = b.baseAddress else { return }
                for i in 0..<d.count { bp[i] += w * dp[i] }
            }
        }
        pending += 1
        if pending == Self.blockSize { fold() }
        totalWeight += weight
        count += 1
    }

    private mutating func fold() {
        block.withUnsafeMutableBufferPointer { b in
            total.withUnsafeMutableBufferPointer { t in
                guard let bp = b.baseAddress, let tp = t.baseAddress else { return }
                for i in 0..<b.count {
                    tp[i] += Double(bp[i])
                    bp[i] = 0
                }
            }
        }
        pending = 0
    }

    /// Σ weightᵢ · deltaᵢ, per parameter.
    public func sum() -> [Double] {
        (0..<total.count).map { total[$0] + Double(block[$0]) }
    }

    /// The weighted mean, or nil when nothing (or only zero weight) was added.
    public func mean() -> [Double]? {
        guard totalWeight > 0 else { return nil }
        let scale = 1 / totalWeight
        return (0..<total.count).map { (total[$0] + Double(block[$0])) * scale }
    }
}

extension WeightedSum {
    func write(to writer: inout SnapshotWriter) {
        writer.doubles(total)
        writer.floats(block)
        writer.int(pending)
        writer.double(totalWeight)
        writer.int(count)
    }

    static func read(from reader: inout SnapshotReader) throws(FederationError) -> WeightedSum {
        var sum = WeightedSum(parameters: 0)
        sum.total = try reader.doubles()
        sum.block = try reader.floats()
        sum.pending = try reader.int()
        sum.totalWeight = try reader.double()
        sum.count = try reader.int()
        guard sum.block.count == sum.total.count, (0..<blockSize).contains(sum.pending) else {
            throw FederationError(.malformed, "strategy snapshot: inconsistent partial sum")
        }
        return sum
    }
}
