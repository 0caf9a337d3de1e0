import Core
import Testing

@testable import Agent

@Suite("Inference signature")
struct InferenceSignatureTests {
    /// A table with numeric, bucketized, categorical and text columns.
    static let mixedTable = try! DataTable(
        columnNames: ["a", "b", "n", "color", "text", "label"],
        columns: [
            ["1.5", "-2", "0.25", "3", "7.75", "-1", "2", "0"],
            ["10", "20", "15", "11", "19", "13", "12", "18"],
            ["0", "3", "7", "1", "5", "9", "2", "4"],
            ["red", "blue", "green", "red", " blue ", "green", "red", "purple"],
            ["the cat sat", "A dog", "", "cat cat cat dog", "Bird, the end!", "x", "dog bird", "the"],
            ["yes", "no", "yes", "no", "yes", "no", "yes", "no"],
        ])

    static let mixedModel: Model = {
        let data = try! LabeledData(mixedTable, label: "label")
        let recipe = FeatureRecipe(
            scaling: .standard, categorical: ["color"], buckets: ["n": [1, 5]], text: ["text"], textBuckets: 64, maxTokens: 4)
        let pipeline = try! recipe.fit(data.features)
        let feeds = try! pipeline.transform(data.features)
        let width = feeds["input"]!.shape[1]
        let graph = try! ModelBuilder.build(
            .mlp(hidden: [8]), inputShape: [width], outputs: 2, seed: 3,
            tokens: ModelBuilder.TokenInput(buckets: 64, length: 4, dimension: 4))
        let model = Model(metadata: ModelMetadata(name: "mixed", classes: ["no", "yes"]), features: pipeline, graph: graph)
        return try! Quantizer().quantize(model, calibrationFeeds: feeds)
    }()

    static func signature(_ model: Model) throws -> ModelSignature {
        try ModelSignature(model: model, program: Int8Program(model: model))
    }

    @Test("the digits model takes its 64 raw pixel counts as FP32 and answers probabilities and a class label")
    func digitsSignature() throws {
        let signature = try Self.signature(OIPFixtures.digitsModel)
        #expect(signature.inputs == [TensorSpec(name: "input", datatype: .fp32, shape: [-1, 64])])
        #expect(
            signature.outputs == [
                TensorSpec(name: "probabilities", datatype: .fp32, shape: [-1, 10]),
                TensorSpec(name: "label", datatype: .bytes, shape: [-1]),
            ])
    }

    @Test("feeds from protocol tensors equal the feature pipeline's own transform, for every transform kind")
    func feedsMatchPipeline() throws {
        let model = Self.mixedModel
        let signature = try Self.signature(model)
        #expect(signature.inputs.map(\.name) == ["input", "color", "text"])
        #expect(signature.inputs.map(\.datatype) == [.fp32, .bytes, .bytes])
        let table = Self.mixedTable
        let rows = table.rowCount
        var numbers: [Float] = []
        let a = try table.numbers("a"), b = try table.numbers("b"), n = try table.numbers("n")
        for r in 0..<rows { numbers += [a[r], b[r], n[r]] }
        let tensors = [
            InferenceTensor(
                name: "text", datatype: .bytes, shape: [rows], values: .bytes(try table.cells("text").map { Array($0.utf8) })),
            InferenceTensor(name: "input", datatype: .fp32, shape: [rows, 3], values: .numbers(numbers)),
            InferenceTensor(
                name: "color", datatype: .bytes, shape: [rows, 1], values: .bytes(try table.cells("color").map { Array($0.utf8) })
            ),
        ]
        let (values, count) = try signature.feeds(from: tensors)
        let expected = try model.features!.transform(try table.dropping("label"))
        #expect(count == rows)
        #expect(signature.tensors(values, rows: count) == expected)
    }

    @Test("an image input takes its raw columns flat or as [H, W, C]")
    func imageShapes() throws {
        let model = OIPFixtures.makeDigitsModel(hidden: [], seed: 5, image: [8, 8, 1])
        let signature = try Self.signature(model)
        #expect(signature.inputs == [TensorSpec(name: "input", datatype: .fp32, shape: [-1, 8, 8, 1])])
        let pixels = OIPFixtures.pixels(rows: 2)
        let flat = try signature.feeds(from: [
            InferenceTensor(name: "input", datatype: .fp32, shape: [2, 64], values: .numbers(pixels))
        ])
        let image = try signature.feeds(from: [
            InferenceTensor(name: "input", datatype: .fp32, shape: [2, 8, 8, 1], values: .numbers(pixels))
        ])
        #expect(flat.values == image.values)
        #expect(signature.tensors(flat.values, rows: flat.rows)["input"]?.shape == [2, 8, 8, 1])
        #expect(throws: InferenceError.self) {
            try signature.feeds(from: [
                InferenceTensor(name: "input", datatype: .fp32, shape: [2, 8, 8], values: .numbers(pixels))
            ])
        }
    }

    @Test(
        "inputs that do not fit the model are refused with a message naming the problem",
        arguments: [
            (
                InferenceTensor(
                    name: "input", datatype: .fp32, shape: [1, 63], values: .numbers(Array(repeating: 1, count: 63))), "shape"
            ),
            (
                InferenceTensor(
                    name: "input", datatype: .bytes, shape: [1, 64], values: .bytes(Array(repeating: [1], count: 64))),
                "number type"
            ),
            (
                InferenceTensor(
                    name: "input", datatype: .bool, shape: [1, 64], values: .numbers(Array(repeating: 1, count: 64))),
                "number type"
            ),
            (
                InferenceTensor(
                    name: "pixels", datatype: .fp32, shape: [1, 64], values: .numbers(Array(repeating: 1, count: 64))),
                "unknown input"
            ),
            (InferenceTensor(name: "input", datatype: .fp32, shape: [0, 64], values: .numbers([])), "at least one row"),
            (
                InferenceTensor(
                    name: "input", datatype: .fp32, shape: [1, 64], values: .numbers([.nan] + Array(repeating: 1, count: 63))),
                "NaN"
            ),
        ])
    func badInputs(tensor: InferenceTensor, message: String) throws {
        let signature = try Self.signature(OIPFixtures.digitsModel)
        do {
            _ = try signature.feeds(from: [tensor])
            Issue.record("expected a refusal mentioning '\(message)'")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("missing inputs and inputs with different row counts are refused")
    func missingAndMismatchedInputs() throws {
        let signature = try Self.signature(Self.mixedModel)
        let input = InferenceTensor(name: "input", datatype: .fp32, shape: [2, 3], values: .numbers([1, 2, 3, 4, 5, 6]))
        let color = InferenceTensor(name: "color", datatype: .bytes, shape: [1], values: .bytes([Array("red".utf8)]))
        let text = InferenceTensor(name: "text", datatype: .bytes, shape: [2], values: .bytes([[], []]))
        #expect(throws: InferenceError.self) { try signature.feeds(from: [input, text]) }
        do {
            _ = try signature.feeds(from: [input, color, text])
            Issue.record("row counts differ")
        } catch {
            #expect(error.message.contains("rows"))
        }
        #expect(throws: InferenceError.self) { try signature.feeds(from: [input, input, color, text]) }
    }
}
