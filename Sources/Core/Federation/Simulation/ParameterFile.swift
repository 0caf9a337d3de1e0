#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A model's trainable parameters as JSON, so that another implementation (the Flower reference
/// script) starts from exactly the same values: `{"layoutDigest", "tensors": [{"name", "shape",
/// "values"}]}` in layout order. Floats are written in their shortest round-trip form, so a
/// reader that parses them as float32 gets the same bits.
public struct ParameterFile: Codable, Sendable, Equatable {
    /// One tensor.
    public struct Entry: Codable, Sendable, Equatable {
        /// The initializer's name.
        public var name: String
        /// Its shape.
        public var shape: [Int]
        /// Its values, row-major.
        public var values: [Float]
    }

    /// `ParameterLayout.digest` of the tensors.
    public var layoutDigest: String
    /// The tensors in layout order.
    public var tensors: [Entry]

    /// The trainable parameters of `graph`.
    public init(graph: Graph) throws(FederationError) {
        let layout = ParameterLayout(graph: graph)
        let flat = try layout.flatten(graph)
        layoutDigest = layout.digest
        tensors = layout.slots.map {
            Entry(name: $0.name, shape: $0.shape, values: Array(flat[$0.offset..<($0.offset + $0.count)]))
        }
    }

    /// Parses a parameter file.
    public init(json bytes: [UInt8]) throws(FederationError) {
        do {
            self = try JSONDecoder().decode(ParameterFile.self, from: Data(bytes))
        } catch {
            throw FederationError(.malformed, "not a parameter file (layoutDigest, tensors): \(error)")
        }
    }

    /// The file's JSON bytes.
    public func json() throws(FederationError) -> [UInt8] {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Array(try encoder.encode(self))
        } catch {
            throw FederationError(.malformed, "the parameters could not be written: \(error)")
        }
    }

    /// Writes the parameters into `graph`; throws `shapeMismatch` if the graph's layout differs.
    public func apply(to graph: inout Graph) throws(FederationError) {
        let layout = ParameterLayout(graph: graph)
        let names = tensors.map(\.name)
        guard names == layout.slots.map(\.name), zip(tensors, layout.slots).allSatisfy({ $0.shape == $1.shape }),
            tensors.allSatisfy({ $0.values.count == $0.shape.reduce(1, *) })
        else {
            throw FederationError(.shapeMismatch, "the parameter file's tensors \(names) do not fit the model")
        }
        try layout.apply(tensors.flatMap(\.values), to: &graph)
    }
}
