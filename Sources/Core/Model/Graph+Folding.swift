extension Graph {
    /// The graph prepared for inference: each batch norm that directly follows a dense or
    /// convolution layer (and is its only reader) is folded into that layer's weights and bias.
    /// Outputs are unchanged up to float rounding.
    public func foldingBatchNorm() -> Graph {
        var graph = self
        var removed = Set<String>()
        for bn in nodes {
            guard case .batchNorm(let epsilon, _) = bn.op,
                let producer = graph.nodes.first(where: { $0.output == bn.inputs[0] }),
                !graph.outputs.contains(producer.output),
                graph.nodes.filter({ $0.inputs.contains(producer.output) }).count == 1,
                let weightName = producer.inputs.dropFirst().first, let weight = graph.initializers[weightName]
            else { continue }
            let stats = bn.inputs.dropFirst().map { graph.initializers[$0] }
            guard stats.allSatisfy({ $0 != nil }) else { continue }
            let (scale, shift) = FloatOps.batchNormAffine(
                gamma: stats[0]!, beta: stats[1]!, mean: stats[2]!, variance: stats[3]!, epsilon: epsilon)
            let channelAxis: Int
            switch producer.op {
            case .dense, .conv2d: channelAxis = 0
            case .depthwiseConv2d: channelAxis = 2
            default: continue
            }
            var w = weight
            let inner = w.shape[(channelAxis + 1)...].reduce(1, *)
            let channels = w.shape[channelAxis]
            guard channels == scale.count else { continue }
            for i in 0..<w.count { w.scalars[i] *= scale[(i / inner) % channels] }
            var bias = producer.inputs.count > 2 ? graph.initializers[producer.inputs[2]]! : Tensor(shape: [channels])
            for c in 0..<channels { bias.scalars[c] = bias.scalars[c] * scale[c] + shift[c] }
            let foldedWeight = "\(producer.name).folded_weight"
            let foldedBias = "\(producer.name).folded_bias"
            graph.initializers[foldedWeight] = w
            graph.initializers[foldedBias] = bias
            let index = graph.nodes.firstIndex { $0.name == producer.name }!
            graph.nodes[index].inputs = [producer.inputs[0], foldedWeight, foldedBias]
            graph.nodes[index].output = bn.output
            removed.insert(bn.name)
        }
        graph.nodes.removeAll { removed.contains($0.name) }
        let used = Set(graph.nodes.flatMap(\.inputs))
        graph.initializers = graph.initializers.filter { used.contains($0.key) }
        graph.frozen = graph.frozen.filter { used.contains($0) }
        return graph
    }
}
