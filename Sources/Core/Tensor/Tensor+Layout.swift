extension Tensor {
    /// For each element of a row-major tensor of `shape` (in order), the flat index
    /// Σ coordinate[axis] · strides[axis] into some source: the walk behind broadcasting
    /// (stride 0 on broadcast axes) and transposition (permuted strides).
    public static func stridedIndices(shape: [Int], strides: [Int]) -> [Int] {
        precondition(shape.count == strides.count, "one stride per axis")
        let rank = shape.count
        let total = shape.reduce(1, *)
        var indices = [Int](repeating: 0, count: total)
        var counter = [Int](repeating: 0, count: rank)
        var flat = 0
        for i in 0..<total {
            indices[i] = flat
            var axis = rank - 1
            while axis >= 0 {
                counter[axis] += 1
                flat += strides[axis]
                if counter[axis] < shape[axis] { break }
                flat -= strides[axis] * counter[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return indices
    }

    /// Row-major strides of `shape`.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        return strides
    }

    /// For each output element, the flat index into a tensor of `shape` broadcast to `out`.
    public static func broadcastIndices(_ shape: [Int], to out: [Int]) -> [Int] {
        let padded = [Int](repeating: 1, count: out.count - shape.count) + shape
        let dense = strides(of: padded)
        return stridedIndices(shape: out, strides: padded.indices.map { padded[$0] == 1 ? 0 : dense[$0] })
    }

    /// For each element of `shape` transposed by `permutation`, its flat index in the original.
    public static func transposedIndices(_ shape: [Int], _ permutation: [Int]) -> [Int] {
        precondition(permutation.sorted() == Array(0..<shape.count), "\(permutation) is not a permutation of \(shape.count) axes")
        let dense = strides(of: shape)
        return stridedIndices(shape: permutation.map { shape[$0] }, strides: permutation.map { dense[$0] })
    }

    /// The tensor with its axes reordered: result axis i is input axis `permutation[i]`.
    public func transposed(_ permutation: [Int]) -> Tensor {
        let indices = Self.transposedIndices(shape, permutation)
        return Tensor(shape: permutation.map { shape[$0] }, scalars: indices.map { scalars[$0] })
    }
}
