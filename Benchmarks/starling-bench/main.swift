import Core
import Foundation
import ONNXImport

/// Times one imported ONNX model in Starling's runtime and prints one JSON line, the
/// counterpart of `Benchmarks/ort/bench_ort.py` (see `Benchmarks/run.sh`).

/// What one run prints (the field names `bench_ort.py` uses).
struct Result: Encodable {
    var caseName: String
    var side = "starling"
    var model: String
    var batch: Int
    var threads: Int
    var backend: String
    /// The backend asked for (`auto` for the best one here).
    var requested: String
    /// What ran, step by step.
    var steps: [String]
    var measurement: Measurement
    var check: Check?

    enum CodingKeys: String, CodingKey {
        case caseName = "case", side, model, batch, threads, backend, requested, steps
        case samplesPerSecond = "samples_per_s", microsecondsPerCall = "us_per_call"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(caseName, forKey: .caseName)
        try c.encode(side, forKey: .side)
        try c.encode(model, forKey: .model)
        try c.encode(batch, forKey: .batch)
        try c.encode(threads, forKey: .threads)
        try c.encode(backend, forKey: .backend)
        try c.encode(requested, forKey: .requested)
        try c.encode(steps.joined(separator: " "), forKey: .steps)
        try c.encode(Double(batch) / measurement.medianSeconds, forKey: .samplesPerSecond)
        try c.encode(measurement.medianSeconds * 1e6, forKey: .microsecondsPerCall)
        try measurement.encode(to: encoder)
        try check?.encode(to: encoder)
    }
}

func benchmark(_ options: Options) throws -> Result {
    let model = try ONNXImporter.importModel(path: options.model)
    let runner: Runner
    if model.quantization != nil {
        let backend = try KernelBackend(parsing: options.backend)
        runner = try Int8Runner(model: model, backend: backend, threads: options.threads)
    } else {
        runner = try Fp32Runner(model: model)
    }
    let check = try Check(modelPath: options.model, runner: runner)
    var random = RandomSource(seed: 7)
    let input = (0..<(options.batch * runner.inputShape.reduce(1, *))).map { _ in Float.random(in: 0..<1, using: &random) }
    let call = runner.prepare(batch: options.batch, input: input)
    let measurement = Measurement(
        warmupMs: options.warmupMs, roundMs: options.roundMs, rounds: options.rounds, budgetMs: options.budgetMs, call)
    return Result(
        caseName: options.caseName, model: options.model, batch: options.batch,
        threads: options.threads, backend: runner.backendName, requested: options.backend, steps: runner.steps,
        measurement: measurement, check: check)
}

let arguments = Array(CommandLine.arguments.dropFirst())
// Modes: `package` (PackageBench.swift), `sizes` (PackageSizes.swift), `aggregate`
// (FederatedAggregationBench.swift); otherwise the ORT counterpart.
if arguments.first == "aggregate" {
    let rest = Array(arguments.dropFirst())
    if rest.contains("--help") {
        print(FederatedAggregationBench.usage)
        exit(0)
    }
    do {
        try FederatedAggregationBench(parsing: rest).run()
    } catch {
        FileHandle.standardError.write(Data("starling-bench aggregate: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if let mode = arguments.first, mode == "package" || mode == "sizes" {
    let rest = Array(arguments.dropFirst())
    if rest.isEmpty || rest.contains("--help") {
        print(mode == "package" ? PackageBench.Options.usage : PackageSizes.usage)
        exit(rest.isEmpty ? 2 : 0)
    }
    do {
        if mode == "package" {
            try PackageBench(try PackageBench.Options(parsing: rest)).run()
        } else {
            try PackageSizes.run(rest)
        }
    } catch {
        FileHandle.standardError.write(Data("starling-bench \(mode): \(error)\n".utf8))
        exit(1)
    }
    exit(0)
}
if arguments == ["--list-backends"] {
    print(KernelBackend.available.map(\.rawValue).joined(separator: " ") + " (best: \(KernelBackend.best))")
    exit(0)
}
if arguments.isEmpty || arguments.contains("--help") {
    print(Options.usage)
    exit(arguments.isEmpty ? 2 : 0)
}
do {
    let result = try benchmark(try Options(parsing: arguments))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(result), as: UTF8.self))
} catch {
    FileHandle.standardError.write(Data("starling-bench: \(error)\n".utf8))
    exit(1)
}
