import Core

/// The numbers of one open window, in flat buffers allocated once when the window opens, so
/// counting a value allocates nothing. Only its recorder touches it, under the recorder's lock.
final class DriftAccumulator {
    /// Per-input constants of the bin search.
    private struct Block {
        var input: Int
        var width: Int
        var sketched: Int
        var firstFeature: Int
        var edges: UnsafeMutableBufferPointer<Double>
        /// Bins per feature (edges + 1).
        var bins: Int
        /// Where the block's first feature's bins start in `counts`.
        var firstBin: Int
        /// The first edge, and 1 / the edge spacing when the edges are evenly spaced (else 0:
        /// binary search).
        var low: Double
        var inverseStep: Double
    }

    private let layout: DriftLayout
    private var blocks: [Block] = []
    private let counts: UnsafeMutableBufferPointer<Int64>
    private let missing: UnsafeMutableBufferPointer<Int64>
    private let sums: UnsafeMutableBufferPointer<Double>
    private let minimums: UnsafeMutableBufferPointer<Double>
    private let maximums: UnsafeMutableBufferPointer<Double>
    private var predictions: HistogramSketch?
    /// Rows observed.
    private(set) var rows: Int64 = 0

    /// An empty window for `layout`.
    init(layout: DriftLayout) {
        self.layout = layout
        var totalBins = 0
        for (index, block) in layout.blocks.enumerated() {
            let edges = UnsafeMutableBufferPointer<Double>.allocate(capacity: block.edges.count)
            _ = edges.initialize(from: block.edges)
            blocks.append(
                Block(
                    input: index, width: block.width, sketched: block.sketched, firstFeature: block.firstFeature, edges: edges,
                    bins: block.edges.count + 1, firstBin: totalBins, low: block.edges[0],
                    inverseStep: Self.inverseStep(block.edges)))
            totalBins += block.sketched * (block.edges.count + 1)
        }
        let features = layout.featureCount
        counts = .allocate(capacity: totalBins)
        counts.initialize(repeating: 0)
        missing = .allocate(capacity: features)
        missing.initialize(repeating: 0)
        sums = .allocate(capacity: features)
        sums.initialize(repeating: 0)
        minimums = .allocate(capacity: features)
        minimums.initialize(repeating: .infinity)
        maximums = .allocate(capacity: features)
        maximums.initialize(repeating: -.infinity)
        predictions = layout.predictions == .none ? nil : HistogramSketch(edges: layout.predictionEdges)
    }

    deinit {
        for block in blocks { block.edges.deallocate() }
        counts.deallocate()
        missing.deallocate()
        sums.deallocate()
        minimums.deallocate()
        maximums.deallocate()
    }

    /// 1 / spacing when `edges` are evenly spaced to within 1e-9 of the spacing, else 0.
    private static func inverseStep(_ edges: [Double]) -> Double {
        guard edges.count > 1 else { return 0 }
        let step = (edges[edges.count - 1] - edges[0]) / Double(edges.count - 1)
        guard step > 0, step.isFinite else { return 0 }
        for (k, edge) in edges.enumerated() where abs(edge - (edges[0] + step * Double(k))) > step * 1e-9 { return 0 }
        return 1 / step
    }

    /// Counts `rows` rows of `feeds` (one array per graph input) and the first of `outputs`.
    /// A batch whose sizes do not match the layout is skipped whole.
    func add(feeds: [[Float]], rows: Int, outputs: [Tensor]) {
        guard rows > 0, feeds.count == blocks.count,
            zip(feeds, blocks).allSatisfy({ $0.count == rows * $1.width })
        else { return }
        for block in blocks where block.sketched > 0 {
            feeds[block.input].withUnsafeBufferPointer { values in count(values, rows: rows, block) }
        }
        if predictions != nil, let output = outputs.first, output.scalars.count == rows * layout.outputWidth {
            addPredictions(output.scalars, rows: rows)
        }
        self.rows += Int64(rows)
    }

    /// Counts one input's values, row after row. The buffers are copied into locals first: the
    /// compiler cannot prove the stores through them leave `self` alone and would reload them.
    private func count(_ values: UnsafeBufferPointer<Float>, rows: Int, _ block: Block) {
        let (counts, missing, sums, minimums, maximums) = (counts, missing, sums, minimums, maximums)
        let width = block.width
        let bins = block.bins
        for row in 0..<rows {
            let base = row * width
            var feature = block.firstFeature
            var bin = block.firstBin
            for j in 0..<block.sketched {
                let value = values[base + j]
                if value.isFinite {
                    let x = Double(value)
                    counts[bin + Self.bin(of: x, block)] += 1
                    sums[feature] += x
                    minimums[feature] = min(minimums[feature], x)
                    maximums[feature] = max(maximums[feature], x)
                } else {
                    missing[feature] += 1
                }
                feature += 1
                bin += bins
            }
        }
    }

    /// The number of edges at or below `x`: `HistogramSketch.add`'s bin, found from an estimate
    /// and corrected against the edges themselves (exact even where the estimate rounds).
    @inline(__always)
    private static func bin(of x: Double, _ block: Block) -> Int {
        let edges = block.edges
        let k = edges.count
        if block.inverseStep > 0 {
            let estimate = (x - block.low) * block.inverseStep
            let guess = estimate < 0 ? 0 : (estimate >= Double(k) ? k : Int(estimate) + 1)
            var i = guess
            while i > 0 && x < edges[i - 1] { i -= 1 }
            while i < k && x >= edges[i] { i += 1 }
            return i
        }
        var low = 0
        var high = k
        while low < high {
            let mid = (low + high) / 2
            if x < edges[mid] { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// Adds each row's prediction: the arg max of its scores, or its single value.
    private func addPredictions(_ scalars: [Float], rows: Int) {
        let width = layout.outputWidth
        for row in 0..<rows {
            let base = row * width
            switch layout.predictions {
            case .value:
                predictions?.add(Double(scalars[base]))
            case .argmax:
                var best = 0
                var finite = true
                for j in 0..<width {
                    let v = scalars[base + j]
                    if !v.isFinite { finite = false }
                    if v > scalars[base + best] { best = j }
                }
                predictions?.add(finite ? Double(best) : nil)
            case .none:
                return
            }
        }
    }

    /// The window's sketches, in the wire format.
    func sketches() -> DriftSketches {
        var features: [DriftReport.Feature] = []
        features.reserveCapacity(layout.featureCount)
        for (block, spec) in zip(blocks, layout.blocks) {
            for j in 0..<block.sketched {
                let feature = block.firstFeature + j
                var sketch = HistogramSketch(edges: spec.edges)
                let first = block.firstBin + j * block.bins
                sketch.counts = Array(counts[first..<(first + block.bins)])
                sketch.missing = missing[feature]
                sketch.sum = sums[feature]
                let counted = sketch.counts.contains { $0 > 0 }
                sketch.min = counted ? minimums[feature] : nil
                sketch.max = counted ? maximums[feature] : nil
                features.append(DriftReport.Feature(name: "\(spec.name)[\(j)]", sketch: sketch))
            }
        }
        return DriftSketches(features: features, predictions: predictions)
    }
}
