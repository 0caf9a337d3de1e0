/// A dense row-major float32 tensor.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first (NHWC for images).
    public var shape: [Int]
    /// Elements in row-major order; `scalars.count == shape.reduce(1, *)`.
    public var scalars: [Float]

    /// A tensor holding `scalars` with `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not hold \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, scalars: scalars)
    }

    /// True when every element is finite (no NaN or infinity).
    public var isFinite: Bool {
        scalars.withUnsafeBufferPointer { buffer in
            var ok = true
            for value in buffer where !value.isFinite { ok = false; break }
            return ok
        }
    }
}

extension Tensor {
    /// Rows `range` of a tensor whose first dimension is the batch.
    public func rows(_ range: Range<Int>) -> Tensor {
        let width = shape.dropFirst().reduce(1, *)
        var newShape = shape
        newShape[0] = range.count
        return Tensor(shape: newShape, scalars: Array(scalars[(range.lowerBound * width)..<(range.upperBound * width)]))
    }

    /// The rows at `indices` of a tensor whose first dimension is the batch.
    public func gatherRows(_ indices: [Int]) -> Tensor {
        let width = shape.dropFirst().reduce(1, *)
        var out = [Float](repeating: 0, count: indices.count * width)
        scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (row, index) in indices.enumerated() {
                    let from = src.baseAddress! + index * width
                    (dst.baseAddress! + row * width).update(from: from, count: width)
                }
            }
        }
        var newShape = shape
        newShape[0] = indices.count
        return Tensor(shape: newShape, scalars: out)
    }

    /// Index of the largest element of each row of a [batch, n] tensor.
    public func argmaxRows() -> [Int] {
        guard let n = shape.last, n > 0 else { return [] }
        let rows = count / n
        return scalars.withUnsafeBufferPointer { buffer in
            (0..<rows).map { row in
                var best = 0
                var bestValue = buffer[row * n]
                for j in 1..<n where buffer[row * n + j] > bestValue {
                    best = j
                    bestValue = buffer[row * n + j]
                }
                return best
            }
        }
    }
}
