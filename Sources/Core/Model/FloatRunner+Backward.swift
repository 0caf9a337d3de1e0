extension FloatRunner {
    /// Back-propagates `seeds` (gradients of the loss with respect to some values) through the
    /// nodes of `pass` and returns the gradient of every trainable initializer that received one.
    public func backward(_ pass: Pass, seeds: [String: Tensor]) -> [String: Tensor] {
        var grads = seeds
        let trainable = Set(graph.trainableParameters)
        for node in graph.nodes.reversed() {
            guard let dy = grads[node.output] else { continue }
            if graph.initializers[node.output] == nil { grads[node.output] = nil }
            let x = node.inputs.map { pass.values[$0] ?? graph.initializers[$0]! }
            let dx = backwardNode(node, x, y: pass.values[node.output], dy: dy, pass: pass)
            for (name, g) in zip(node.inputs, dx) {
                guard let g else { continue }
                if graph.initializers[name] != nil && !trainable.contains(name) { continue }
                if let existing = grads[name] {
                    grads[name] = FloatOps.add(existing, g)
                } else {
                    grads[name] = g
                }
            }
        }
        return grads.filter { trainable.contains($0.key) }
    }

    /// Gradients for each input of `node` (nil where none flows, e.g. indices).
    private func backwardNode(_ node: Node, _ x: [Tensor], y: Tensor?, dy: Tensor, pass: Pass) -> [Tensor?] {
        switch node.op {
        case .dense:
            let (dx, dw, db) = FloatOps.denseBackward(x[0], x[1], hasBias: x.count > 2, dy)
            return x.count > 2 ? [dx, dw, db] : [dx, dw]
        case .conv2d(let window, let groups):
            let (dx, dw, db) = FloatOps.conv2dBackward(x[0], x[1], hasBias: x.count > 2, dy, window: window, groups: groups)
            return x.count > 2 ? [dx, dw, db] : [dx, dw]
        case .depthwiseConv2d(let window, let multiplier):
            let (dx, dw, db) = FloatOps.depthwiseBackward(
                x[0], x[1], hasBias: x.count > 2, dy, window: window, multiplier: multiplier)
            return x.count > 2 ? [dx, dw, db] : [dx, dw]
        case .maxPool:
            return [FloatOps.maxPoolBackward(inputShape: x[0].shape, argmax: pass.argmax[node.name] ?? [], dy)]
        case .avgPool(let window, let countIncludePad):
            return [FloatOps.avgPoolBackward(inputShape: x[0].shape, window: window, countIncludePad: countIncludePad, dy)]
        case .globalAvgPool:
            return [FloatOps.globalAvgPoolBackward(inputShape: x[0].shape, dy)]
        case .flatten, .reshape:
            return [dy.reshaped(x[0].shape)]
        case .add:
            return [FloatOps.reduceBroadcast(dy, to: x[0].shape), FloatOps.reduceBroadcast(dy, to: x[1].shape)]
        case .relu, .relu6, .sigmoid, .tanh:
            return [FloatOps.activationBackward(node.op, x: x[0], y: y!, dy: dy)]
        case .softmax:
            return [FloatOps.softmaxBackward(y: y!, dy: dy)]
        case .batchNorm(let epsilon, _):
            guard let saved = pass.batchNorm[node.name] else {
                // Inference-mode statistics: a fixed per-channel affine map.
                let (scale, _) = FloatOps.batchNormAffine(gamma: x[1], beta: x[2], mean: x[3], variance: x[4], epsilon: epsilon)
                let dx = FloatOps.channelAffine(dy, scale: scale, shift: [Float](repeating: 0, count: scale.count))
                return [dx, nil, nil, nil, nil]
            }
            let (dx, dgamma, dbeta) = FloatOps.batchNormBackward(
                xhat: saved.xhat, gamma: x[1], variance: saved.variance, epsilon: epsilon, dy: dy)
            return [dx, dgamma, dbeta, nil, nil]
        case .embeddingBag(let mode):
            return [nil, FloatOps.embeddingBagBackward(x[0], table: x[1], mode: mode, dy: dy)]
        case .concat:
            return FloatOps.concatBackward(dy, shapes: x.map(\.shape))
        }
    }
}
