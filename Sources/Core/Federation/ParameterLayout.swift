/// Where each trainable tensor sits in a flat parameter vector. Federated code moves models as
/// one `[Float]` in this order (the graph's `trainableParameters`, the order nodes read them), so
/// an update is a plain vector and strategies are math on vectors.
public struct ParameterLayout: Codable, Sendable, Equatable {
    /// One tensor's place in the vector.
    public struct Slot: Codable, Sendable, Equatable {
        /// The initializer's name.
        public var name: String
        /// Its shape.
        public var shape: [Int]
        /// The index of its first scalar in the vector.
        public var offset: Int
        /// Its number of scalars.
        public var count: Int
    }

    /// The tensors, in vector order.
    public private(set) var slots: [Slot]
    /// The vector's length.
    public private(set) var count: Int

    /// The layout of `graph`'s trainable parameters.
    public init(graph: Graph) {
        var slots: [Slot] = []
        var offset = 0
        for name in graph.trainableParameters {
            let tensor = graph.initializers[name]!
            slots.append(Slot(name: name, shape: tensor.shape, offset: offset, count: tensor.count))
            offset += tensor.count
        }
        self.slots = slots
        self.count = offset
    }

    /// A short, stable identity of the layout (names, shapes, order): SHA-256, lowercase hex.
    /// Updates name it so a vector for another model shape is refused before any math.
    public var digest: String {
        var text = ""
        for slot in slots { text += "\(slot.name):\(slot.shape.map(String.init).joined(separator: "x"));" }
        return PackageDigest.sha256(Array(text.utf8))
    }

    /// The graph's trainable parameters as one vector; throws if the graph does not fit the layout.
    public func flatten(_ graph: Graph) throws(FederationError) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        for slot in slots {
            guard let tensor = graph.initializers[slot.name], tensor.shape == slot.shape else {
                throw FederationError(.shapeMismatch, "the model has no parameter '\(slot.name)' of shape \(slot.shape)")
            }
            out.replaceSubrange(slot.offset..<(slot.offset + slot.count), with: tensor.scalars)
        }
        return out
    }

    /// Writes `values` (a vector in this layout) into the graph's parameters.
    public func apply(_ values: [Float], to graph: inout Graph) throws(FederationError) {
        guard values.count == count else {
            throw FederationError(.shapeMismatch, "the vector has \(values.count) values; the model has \(count) parameters")
        }
        for slot in slots {
            guard var tensor = graph.initializers[slot.name], tensor.shape == slot.shape else {
                throw FederationError(.shapeMismatch, "the model has no parameter '\(slot.name)' of shape \(slot.shape)")
            }
            tensor.scalars = Array(values[slot.offset..<(slot.offset + slot.count)])
            graph.initializers[slot.name] = tensor
        }
    }
}
