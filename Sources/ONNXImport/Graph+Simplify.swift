import Core

extension Graph {
    /// The graph without the reshapes that layout conversion leaves behind: chains of batch-keeping
    /// reshapes collapse into their last one, and reshapes that keep the shape disappear.
    func simplifyingReshapes(activations: inout [String: ActivationQuant]) -> Graph {
        var graph = self
        var changed = true
        while changed {
            changed = false
            for (i, node) in graph.nodes.enumerated() where Self.keepsBatch(node.op) {
                guard let p = graph.nodes.firstIndex(where: { $0.output == node.inputs[0] }), Self.keepsBatch(graph.nodes[p].op),
                    !graph.outputs.contains(graph.nodes[p].output), graph.consumers(of: graph.nodes[p].output).count == 1
                else { continue }
                graph.nodes[i].inputs = graph.nodes[p].inputs
                activations.removeValue(forKey: graph.nodes[p].output)
                graph.nodes.remove(at: p)
                changed = true
                break
            }
        }
        guard let one = try? graph.inferShapes(batch: 1), let two = try? graph.inferShapes(batch: 2) else { return graph }
        var removed: [String: String] = [:]
        for node in graph.nodes where Self.keepsBatch(node.op) && !graph.outputs.contains(node.output) {
            if one[node.inputs[0]] == one[node.output] && two[node.inputs[0]] == two[node.output] {
                removed[node.output] = node.inputs[0]
            }
        }
        func resolve(_ name: String) -> String {
            var name = name
            while let source = removed[name] { name = source }
            return name
        }
        graph.nodes.removeAll { removed[$0.output] != nil }
        for i in graph.nodes.indices { graph.nodes[i].inputs = graph.nodes[i].inputs.map(resolve) }
        for old in removed.keys { activations.removeValue(forKey: old) }
        return graph
    }

    /// Flatten, and reshapes that copy the batch dimension (their first target entry is 0).
    private static func keepsBatch(_ op: Op) -> Bool {
        switch op {
        case .flatten: true
        case .reshape(let shape): shape.first == 0
        default: false
        }
    }
}
