#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension FloatOps {
    // MARK: - Broadcasting add

    static func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape {
            var y = a.scalars
            y.withUnsafeMutableBufferPointer { yp in
                b.scalars.withUnsafeBufferPointer { bp in
                    for i in 0..<yp.count { yp[i] += bp[i] }
                }
            }
            return Tensor(shape: a.shape, scalars: y)
        }
        let out = Graph.broadcast(a.shape, b.shape)!
        if out == a.shape, b.shape.count <= a.shape.count, Array(a.shape.suffix(b.shape.count)) == b.shape {
            var y = a.scalars
            y.withUnsafeMutableBufferPointer { yp in addRowBias(yp, rows: a.count / max(b.count, 1), bias: b.scalars) }
            return Tensor(shape: out, scalars: y)
        }
        let ia = Tensor.broadcastIndices(a.shape, to: out)
        let ib = Tensor.broadcastIndices(b.shape, to: out)
        var y = [Float](repeating: 0, count: ia.count)
        for i in 0..<ia.count { y[i] = a.scalars[ia[i]] + b.scalars[ib[i]] }
        return Tensor(shape: out, scalars: y)
    }

    /// The gradient of one broadcast operand: dy summed over the broadcast axes.
    static func reduceBroadcast(_ dy: Tensor, to shape: [Int]) -> Tensor {
        if dy.shape == shape { return dy }
        let indices = Tensor.broadcastIndices(shape, to: dy.shape)
        var g = [Float](repeating: 0, count: shape.reduce(1, *))
        for i in 0..<indices.count { g[indices[i]] += dy.scalars[i] }
        return Tensor(shape: shape, scalars: g)
    }

    // MARK: - Activations

    static func activation(_ op: Op, _ x: Tensor) -> Tensor {
        var y = x.scalars
        guard !y.isEmpty else { return x }
        y.withUnsafeMutableBufferPointer { p in Elementwise.activation(op, p.baseAddress!, p.baseAddress!, count: p.count) }
        return Tensor(shape: x.shape, scalars: y)
    }

    /// dx from the activation's input x, output y and upstream dy.
    static func activationBackward(_ op: Op, x: Tensor, y: Tensor, dy: Tensor) -> Tensor {
        var dx = dy.scalars
        dx.withUnsafeMutableBufferPointer { d in
            x.scalars.withUnsafeBufferPointer { xp in
                y.scalars.withUnsafeBufferPointer { yp in
                    switch op {
                    case .relu: for i in 0..<d.count where xp[i] <= 0 { d[i] = 0 }
                    case .relu6: for i in 0..<d.count where xp[i] <= 0 || xp[i] >= 6 { d[i] = 0 }
                    case .sigmoid: for i in 0..<d.count { d[i] *= yp[i] * (1 - yp[i]) }
                    case .tanh: for i in 0..<d.count { d[i] *= 1 - yp[i] * yp[i] }
                    default: preconditionFailure("\(op.kind) is not an activation")
                    }
                }
            }
        }
        return Tensor(shape: x.shape, scalars: dx)
    }

    // MARK: - Softmax

    static func softmax(_ x: Tensor) -> Tensor {
        let n = x.shape.last ?? 1
        var y = x.scalars
        guard !y.isEmpty else { return x }
        y.withUnsafeMutableBufferPointer { p in
            Elementwise.softmax(p.baseAddress!, p.baseAddress!, rows: p.count / max(n, 1), width: n)
        }
        return Tensor(shape: x.shape, scalars: y)
    }

    static func softmaxBackward(y: Tensor, dy: Tensor) -> Tensor {
        let n = y.shape.last ?? 1
        var dx = [Float](repeating: 0, count: y.count)
        for r in 0..<(y.count / max(n, 1)) {
            var dot: Float = 0
            for j in 0..<n { dot += dy.scalars[r * n + j] * y.scalars[r * n + j] }
            for j in 0..<n { dx[r * n + j] = y.scalars[r * n + j] * (dy.scalars[r * n + j] - dot) }
        }
        return Tensor(shape: y.shape, scalars: dx)
    }

    // MARK: - Batch normalisation (channels last)

    /// Per-channel scale and shift equivalent to inference-mode batch norm.
    static func batchNormAffine(gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) -> ([Float], [Float]) {
        let c = gamma.count
        var scale = [Float](repeating: 0, count: c)
        var shift = [Float](repeating: 0, count: c)
        for j in 0..<c {
            scale[j] = gamma.scalars[j] / (variance.scalars[j] + epsilon).squareRoot()
            shift[j] = beta.scalars[j] - mean.scalars[j] * scale[j]
        }
        return (scale, shift)
    }

    static func channelAffine(_ x: Tensor, scale: [Float], shift: [Float]) -> Tensor {
        let c = scale.count
        var y = x.scalars
        for i in 0..<y.count { y[i] = y[i] * scale[i % c] + shift[i % c] }
        return Tensor(shape: x.shape, scalars: y)
    }

    /// Training-mode batch norm: output, normalised input, batch mean and (biased) variance.
    static func batchNormTrain(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) -> (Tensor, Tensor, [Float], [Float]) {
        let c = gamma.count
        let rows = x.count / c
        var mean = [Float](repeating: 0, count: c)
        var variance = [Float](repeating: 0, count: c)
        for i in 0..<x.count { mean[i % c] += x.scalars[i] }
        for j in 0..<c { mean[j] /= Float(rows) }
        for i in 0..<x.count {
            let d = x.scalars[i] - mean[i % c]
            variance[i % c] += d * d
        }
        for j in 0..<c { variance[j] /= Float(rows) }
        var xhat = [Float](repeating: 0, count: x.count)
        var y = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let j = i % c
            xhat[i] = (x.scalars[i] - mean[j]) / (variance[j] + epsilon).squareRoot()
            y[i] = gamma.scalars[j] * xhat[i] + beta.scalars[j]
        }
        return (Tensor(shape: x.shape, scalars: y), Tensor(shape: x.shape, scalars: xhat), mean, variance)
    }

    /// Gradients of training-mode batch norm: (dx, dgamma, dbeta).
    static func batchNormBackward(xhat: Tensor, gamma: Tensor, variance: [Float], epsilon: Float, dy: Tensor) -> (Tensor, Tensor, Tensor) {
        let c = gamma.count
        let rows = Float(xhat.count / c)
        var dgamma = [Float](repeating: 0, count: c)
        var dbeta = [Float](repeating: 0, count: c)
        for i in 0..<dy.count {
            dgamma[i % c] += dy.scalars[i] * xhat.scalars[i]
            dbeta[i % c] += dy.scalars[i]
        }
        var dx = [Float](repeating: 0, count: dy.count)
        for i in 0..<dy.count {
            let j = i % c
            let invStd = 1 / (variance[j] + epsilon).squareRoot()
            dx[i] = gamma.scalars[j] * invStd / rows * (rows * dy.scalars[i] - dbeta[j] - xhat.scalars[i] * dgamma[j])
        }
        return (Tensor(shape: dy.shape, scalars: dx), Tensor(shape: [c], scalars: dgamma), Tensor(shape: [c], scalars: dbeta))
    }

    // MARK: - Embedding bag

    /// Valid row indices of each bag (negative or out-of-range entries are padding).
    static func bags(_ indices: Tensor, buckets: Int) -> [[Int]] {
        let (n, l) = (indices.shape[0], indices.shape[1])
        return (0..<n).map { r in
            (0..<l).compactMap { t in
                let v = indices.scalars[r * l + t]
                guard v >= 0, v < Float(buckets) else { return nil }
                return Int(v)
            }
        }
    }

    static func embeddingBag(_ indices: Tensor, table: Tensor, mode: BagMode) -> Tensor {
        let d = table.shape[1]
        let all = bags(indices, buckets: table.shape[0])
        var y = [Float](repeating: 0, count: all.count * d)
        for (r, bag) in all.enumerated() {
            for index in bag {
                for j in 0..<d { y[r * d + j] += table.scalars[index * d + j] }
            }
            if mode == .mean, !bag.isEmpty {
                let inv = 1 / Float(bag.count)
                for j in 0..<d { y[r * d + j] *= inv }
            }
        }
        return Tensor(shape: [all.count, d], scalars: y)
    }

    static func embeddingBagBackward(_ indices: Tensor, table: Tensor, mode: BagMode, dy: Tensor) -> Tensor {
        let d = table.shape[1]
        var g = [Float](repeating: 0, count: table.count)
        for (r, bag) in bags(indices, buckets: table.shape[0]).enumerated() {
            let k: Float = mode == .mean && !bag.isEmpty ? 1 / Float(bag.count) : 1
            for index in bag {
                for j in 0..<d { g[index * d + j] += dy.scalars[r * d + j] * k }
            }
        }
        return Tensor(shape: table.shape, scalars: g)
    }

    // MARK: - Concat (last axis)

    static func concat(_ parts: [Tensor]) -> Tensor {
        let widths = parts.map { $0.shape.last ?? 0 }
        let total = widths.reduce(0, +)
        let rows = parts[0].count / max(widths[0], 1)
        var y = [Float](repeating: 0, count: rows * total)
        var offset = 0
        for (part, w) in zip(parts, widths) {
            for r in 0..<rows {
                for j in 0..<w { y[r * total + offset + j] = part.scalars[r * w + j] }
            }
            offset += w
        }
        return Tensor(shape: Array(parts[0].shape.dropLast()) + [total], scalars: y)
    }

    static func concatBackward(_ dy: Tensor, shapes: [[Int]]) -> [Tensor] {
        let total = dy.shape.last ?? 0
        let rows = dy.count / max(total, 1)
        var offset = 0
        return shapes.map { shape in
            let w = shape.last ?? 0
            var g = [Float](repeating: 0, count: rows * w)
            for r in 0..<rows {
                for j in 0..<w { g[r * w + j] = dy.scalars[r * total + offset + j] }
            }
            offset += w
            return Tensor(shape: shape, scalars: g)
        }
    }
}
