import ArgumentParser
import Core
import Foundation

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare model files side by side: accuracy, agreement, size, latency and throughput.")

    @Argument(help: "Model files (the first is the baseline for agreement).")
    var models: [String]
    @Option(help: "Labelled data (CSV).")
    var data: String
    @Option(help: "Label column (default: the first model's).")
    var label: String?
    @Option(help: "JSON split file: use only its test_indices rows.")
    var split: String?
    @Option(help: "int8 kernel backend: auto, reference, avx2, avx512vnni, xnnpack.")
    var backend = "auto"
    @Option(help: "Batch size for the throughput column.")
    var batch = 256
    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let loaded = try models.map { try ModelFile.read(path: $0) }
        guard let first = loaded.first else { throw ValidationError("give at least one model") }
        guard let label = label ?? first.metadata.labelColumn else { throw ValidationError("give --label") }
        var data = try LabeledData(readTable(data), label: label)
        if let split { data = try data.selecting(rows: try DataSplit.read(path: split).testIndices) }
        guard !data.labels.isEmpty else { throw ValidationError("the data has no rows") }
        let backend = try KernelBackend(parsing: backend)
        var rows: [CompareRow] = []
        var baseline: [Int]?
        for (path, model) in zip(models, loaded) {
            let feeds = try model.inputs(from: data.features)
            let runner = try ModelRunner(model: model, backend: backend)
            let outputs = try runner.run(feeds)
            let predictions = outputs.argmaxRows()
            let classes = model.metadata.classes ?? (0..<(outputs.shape.last ?? 0)).map(String.init)
            let labels = try ClassEncoder(classes: classes).encode(data.labels)
            let correct = zip(predictions, labels).filter { $0 == $1 }.count
            let agreement = baseline.map { base in Float(zip(base, predictions).filter { $0 == $1 }.count) / Float(max(base.count, 1)) }
            if baseline == nil { baseline = predictions }
            let timing = try runner.time(feeds, batch: batch)
            rows.append(
                CompareRow(
                    model: path, kind: model.quantization.map { "int8 \($0.mode.rawValue) (\(backend))" } ?? "float32",
                    fileBytes: try FileIO.size(path), accuracy: Float(correct) / Float(max(labels.count, 1)),
                    agreement: agreement, latencyMicroseconds: timing.latency * 1e6, samplesPerSecond: timing.throughput))
        }
        if json {
            try Output.json(rows)
            return
        }
        print(Output.table(
            ["model", "kind", "size", "accuracy", "agrees", "1-sample p50", "batch \(batch)"],
            rows.map { r in
                [URL(fileURLWithPath: r.model).lastPathComponent, r.kind, Output.bytes(r.fileBytes), Output.percent(r.accuracy),
                 Output.percent(r.agreement), String(format: "%.2f µs", r.latencyMicroseconds),
                 String(format: "%.0f /s", r.samplesPerSecond)]
            }))
    }
}

struct CompareRow: Encodable {
    var model: String
    var kind: String
    var fileBytes: Int
    var accuracy: Float
    var agreement: Float?
    var latencyMicroseconds: Double
    var samplesPerSecond: Double
}

/// Runs a model as the agent would (int8 program when quantized) and times it.
struct ModelRunner {
    let model: Model
    let program: Int8Program?
    let float: FloatRunner

    init(model: Model, backend: KernelBackend) throws {
        self.model = model
        program = model.quantization == nil ? nil : try Int8Program(model: model, backend: backend)
        float = try FloatRunner(graph: model.graph)
    }

    func run(_ feeds: [String: Tensor]) throws -> Tensor {
        if let program { return try program.run(feeds, workspace: program.makeWorkspace())[0] }
        return try float.run(feeds)[0]
    }

    /// Median single-sample latency (seconds) and batch throughput (samples per second).
    func time(_ feeds: [String: Tensor], batch: Int) throws -> (latency: Double, throughput: Double) {
        guard let input = feeds.values.first, feeds.count == 1, let name = feeds.keys.first else {
            throw ValidationError("timing needs a single-input model")
        }
        let samples = input.shape[0]
        let clock = ContinuousClock()
        var latencies: [Double] = []
        let rounds = 15
        let perRound = 200
        if let program {
            let ws = program.makeWorkspace()
            let width = input.count / max(samples, 1)
            let outWidth = program.outputShapes[0].shape.reduce(1, *)
            var out = [Float](repeating: 0, count: max(batch, 1) * outWidth)
            input.scalars.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { y in
                    for round in 0..<rounds {
                        let start = clock.now
                        for i in 0..<perRound {
                            program.run(batch: 1, input: x.baseAddress! + ((round * perRound + i) % samples) * width, output: y.baseAddress!, workspace: ws)
                        }
                        latencies.append(start.duration(to: clock.now).seconds / Double(perRound))
                    }
                }
            }
            let big = Tensor.concatenateRows((0..<((batch + samples - 1) / samples)).map { _ in input }).rows(0..<batch)
            let perBatch = try big.scalars.withUnsafeBufferPointer { b in
                try out.withUnsafeMutableBufferPointer { y in
                    try throughputLoop(clock) { program.run(batch: batch, input: b.baseAddress!, output: y.baseAddress!, workspace: ws) }
                }
            }
            return (median(latencies), Double(batch) / perBatch)
        }
        for round in 0..<rounds {
            let start = clock.now
            for i in 0..<(perRound / 4) {
                _ = try float.run([name: input.rows(((round * perRound + i) % samples)..<((round * perRound + i) % samples + 1))])
            }
            latencies.append(start.duration(to: clock.now).seconds / Double(perRound / 4))
        }
        let big = Tensor.concatenateRows((0..<((batch + samples - 1) / samples)).map { _ in input }).rows(0..<batch)
        let perBatch = try throughputLoop(clock) { _ = try float.run([name: big]) }
        return (median(latencies), Double(batch) / perBatch)
    }

    /// Median seconds per call of `body` over several timed rounds.
    private func throughputLoop(_ clock: ContinuousClock, _ body: () throws -> Void) throws -> Double {
        var times: [Double] = []
        for _ in 0..<9 {
            let start = clock.now
            try body()
            times.append(start.duration(to: clock.now).seconds)
        }
        return median(times)
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
