import Core
import Foundation

@testable import Agent

/// Models and data shared by the inference tests, built once per test process.
enum OIPFixtures {
    /// The repository root (tests read the committed data files).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The digits data (64 pixel counts and a label per row).
    static let digits: LabeledData = {
        let table = try! CSV.parse(Array(FileManager.default.contents(atPath: root + "/data/digits.csv")!))
        return try! LabeledData(table, label: "label")
    }()

    /// The raw pixel rows of the first `count` digits, row-major.
    static func pixels(rows count: Int, from start: Int = 0) -> [Float] {
        var values: [Float] = []
        for r in start..<(start + count) {
            for name in digits.features.columnNames { values.append(try! digits.features.numbers(name)[r]) }
        }
        return values
    }

    /// An int8 digits MLP (divide:16 pipeline, class names "0"..."9"), trained briefly: the
    /// tests need a real model, not a good one.
    static let digitsModel: Model = makeDigitsModel(hidden: [32], seed: 7)

    /// A second digits model with different weights, to tell versions apart.
    static let digitsModelB: Model = makeDigitsModel(hidden: [16], seed: 11)

    static func makeDigitsModel(hidden: [Int], seed: UInt64, image: [Int]? = nil) -> Model {
        let data = digits.features.selecting(rowsOrAll: 600)
        let labels = Array(digits.labels.prefix(600))
        let pipeline = try! FeatureRecipe(scaling: .divide(16), image: image).fit(data)
        let encoder = ClassEncoder(fitting: labels)
        let x = try! pipeline.transform(data)
        let y = Targets.classes(try! encoder.encode(labels))
        let architecture: Architecture =
            image == nil ? .mlp(hidden: hidden) : try! Architecture(parsing: "cnn:conv4k3,pool2,dense16")
        var graph = try! ModelBuilder.build(architecture, inputShape: image ?? [64], outputs: 10, seed: seed)
        _ = try! Trainer(config: TrainingConfig(epochs: 3, batchSize: 32, optimizer: .adam(learningRate: 3e-3), seed: seed)).fit(
            &graph, feeds: x, targets: y)
        let model = Model(
            metadata: ModelMetadata(name: "digits", task: "classification", classes: encoder.classes, labelColumn: "label"),
            features: pipeline,
            graph: graph)
        return try! Quantizer().quantize(model, calibrationFeeds: x)
    }

    /// What Core's own int8 runtime predicts for `pixels` (rows × 64 raw values).
    static func corePrediction(_ model: Model, pixels: [Float]) -> Tensor {
        let rows = pixels.count / 64
        let columns = digits.features.columnNames
        var cells: [[String]] = columns.map { _ in [] }
        for r in 0..<rows { for c in 0..<64 { cells[c].append(String(pixels[r * 64 + c])) } }
        let table = try! DataTable(columnNames: columns, columns: cells)
        let program = try! Int8Program(model: model)
        return try! program.run(try! model.inputs(from: table), workspace: program.makeWorkspace())[0]
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "starling-oip-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

extension DataTable {
    /// The first `count` rows (or all when fewer).
    func selecting(rowsOrAll count: Int) -> DataTable {
        try! selecting(rows: Array(0..<Swift.min(count, rowCount)))
    }
}

/// Runs blocking work on a thread of its own. Not on Dispatch's global queue: on Linux Swift's
/// tasks run on that same pool, sized to the cores, so blocking waits there (a client waiting for
/// a swap, a batch held open) can starve the very tasks they wait for on a 2-core machine.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
