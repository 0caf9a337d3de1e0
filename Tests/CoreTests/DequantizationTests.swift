import Testing

@testable import Core

@Suite("int8 weight dequantization")
struct DequantizationTests {
    /// Element i times the scale of its channel, written the obvious way.
    static func reference(_ w: QuantizedWeight) -> [Float] {
        let inner = w.shape.isEmpty ? 1 : w.shape[(w.axis + 1)...].reduce(1, *)
        return w.values.indices.map { i in
            let scale = w.scales.count == 1 ? w.scales[0] : w.scales[(i / inner) % w.shape[w.axis]]
            return Float(w.values[i]) * scale
        }
    }

    @Test(
        "dequantized() is bit-identical to code times channel scale",
        arguments: [
            ([7, 5], 0, 7), ([7, 5], 0, 1), ([3, 3, 4, 6], 0, 3), ([3, 3, 4, 6], 2, 4), ([2, 3, 5], 1, 3), ([4, 1], 1, 1),
            ([0, 5], 0, 1), ([9], 0, 9),
        ] as [([Int], Int, Int)])
    func matchesFormula(_ shape: [Int], _ axis: Int, _ scaleCount: Int) {
        var random = RandomSource(seed: UInt64(shape.reduce(1, *) * 31 + axis * 7 + scaleCount))
        let count = shape.reduce(1, *)
        let values = (0..<count).map { _ in Int8(random.uniform(-127, 127).rounded()) }
        let scales = (0..<scaleCount).map { _ in random.uniform(1e-4, 0.1) }
        let weight = QuantizedWeight(shape: shape, values: values, scales: scales, axis: axis)
        let tensor = weight.dequantized()
        #expect(tensor.shape == shape)
        #expect(tensor.scalars.map(\.bitPattern) == Self.reference(weight).map(\.bitPattern))
    }

    @Test("a code times a huge scale overflows to infinity, as the float product does")
    func overflow() {
        let weight = QuantizedWeight(shape: [2, 2], values: [1, 127, -127, 2], scales: [1, 3e38], axis: 0)
        #expect(weight.dequantized().scalars == [1, 127, -.infinity, .infinity])
    }
}
