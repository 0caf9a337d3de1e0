extension Tensor {
    /// For each output element, the flat index into a tensor of `shape` broadcast to `out`.
    public static func broadcastIndices(_ shape: [Int], to out: [Int]) -> [Int] {
        let rank = out.count
        let padded = [Int](repeating: 1, count: rank - shape.count) + shape
        var strides = [Int](repeating: 0, count: rank)
        var step = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            strides[axis] = padded[axis] == 1 ? 0 : step
            step *= padded[axis]
        }
        let total = out.reduce(1, *)
        var indices = [Int](repeating: 0, count: total)
        var counter = [Int](repeating: 0, count: rank)
        var flat = 0
        for i in 0..<total {
            indices[i] = flat
            var axis = rank - 1
            while axis >= 0 {
                counter[axis] += 1
                flat += strides[axis]
                if counter[axis] < out[axis] { break }
                flat -= strides[axis] * counter[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return indices
    }

    /// The tensor with its axes reordered: result axis i is input axis `permutation[i]`.
    public func transposed(_ permutation: [Int]) -> Tensor {
        precondition(permutation.sorted() == Array(0..<rank), "\(permutation) is not a permutation of \(rank) axes")
        let outShape = permutation.map { shape[$0] }
        var strides = [Int](repeating: 1, count: rank)
        for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
        let source = permutation.map { strides[$0] }
        var out = [Float](repeating: 0, count: count)
        var counter = [Int](repeating: 0, count: rank)
        var flat = 0
        for i in 0..<count {
            out[i] = scalars[flat]
            var axis = rank - 1
            while axis >= 0 {
                counter[axis] += 1
                flat += source[axis]
                if counter[axis] < outShape[axis] { break }
                flat -= source[axis] * counter[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return Tensor(shape: outShape, scalars: out)
    }
}
