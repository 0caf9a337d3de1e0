import ArgumentParser
import Core
import Foundation

/// How to run a model: int8 on a backend, or float.
struct RunOptions: ParsableArguments {
    @Option(help: "int8 kernel backend: auto, reference, avx2, avx512vnni, xnnpack.")
    var backend = "auto"
    @Flag(name: .customLong("float"), help: "Run the float32 graph even if the model is quantized.")
    var useFloat = false
    @Option(help: "Threads for int8 layers.")
    var threads = 1

    func validate() throws {
        _ = try KernelBackend(parsing: backend)
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Runs `model` on `feeds` and returns its first output.
    func run(_ model: Model, _ feeds: [String: Tensor]) throws -> Tensor {
        if model.quantization != nil && !useFloat {
            let program = try Int8Program(model: model, backend: try KernelBackend(parsing: backend))
            return try program.run(feeds, workspace: program.makeWorkspace(threads: threads))[0]
        }
        return try FloatRunner(graph: model.graph).run(feeds)[0]
    }
}

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Quantize a model to int8 (static with calibration data, else dynamic).")

    @Argument(help: "Float model file.")
    var model: String
    @Option(help: "Calibration data (CSV of raw rows; a label column is ignored).")
    var calibration: String?
    @Option(help: "Label column to ignore in the calibration data.")
    var label: String?
    @Option(help: "Activation ranges: minmax or percentile:P (e.g. percentile:99.99).")
    var method = "minmax"
    @Option(help: "JSON split file: calibrate on its train_indices rows only.")
    var split: String?
    @Option(help: "Use at most this many calibration rows.")
    var limit = 1000
    @Flag(help: "Dynamic quantization (no calibration; activation ranges per batch at run time).")
    var dynamic = false
    @Flag(name: .customLong("keep-float"), help: "Also keep the float weights in the file.")
    var keepFloat = false
    @Option(help: "Output model file.")
    var out: String
    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard dynamic != (calibration != nil) else { throw ValidationError("give --calibration CSV, or --dynamic (not both)") }
    }

    func run() throws {
        let source = try ModelFile.read(path: model)
        var quantizer = Quantizer(calibration: try CalibrationMethod(parsing: method))
        quantizer.batchSize = 64
        var feeds: [String: Tensor]?
        if let calibration {
            var table = try readTable(calibration)
            if let split { table = try table.selecting(rows: try DataSplit.read(path: split).trainIndices) }
            if table.rowCount > limit { table = try table.selecting(rows: Array(0..<limit)) }
            feeds = try source.inputs(from: table, ignoring: Set([label ?? source.metadata.labelColumn].compactMap { $0 }))
        }
        var quantized = try quantizer.quantize(source, calibrationFeeds: feeds)
        quantized.metadata.source = (source.metadata.source.map { $0 + "+" } ?? "") + "quantize"
        try ModelFile.write(quantized, path: out, keepFloatWeights: keepFloat)
        let before = try FileIO.size(model)
        let after = try FileIO.size(out)
        let summary = QuantizeSummary(
            out: out, mode: quantized.quantization!.mode.rawValue, method: dynamic ? nil : method,
            calibrationRows: feeds?.values.first?.shape.first, bytesBefore: before, bytesAfter: after)
        if json {
            try Output.json(summary)
        } else {
            print(Output.table(["", "value"], [
                ["model file", out], ["mode", summary.mode], ["calibration", summary.method.map { "\($0), \(summary.calibrationRows ?? 0) rows" } ?? "-"],
                ["size", "\(Output.bytes(before)) -> \(Output.bytes(after))"],
            ]))
        }
    }
}

struct QuantizeSummary: Encodable {
    var out: String
    var mode: String
    var method: String?
    var calibrationRows: Int?
    var bytesBefore: Int
    var bytesAfter: Int
}

