import ArgumentParser
import Core
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what a model file holds.")

    @Argument(help: "Model file.")
    var model: String
    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let bytes = try FileIO.read(model)
        let model = try ModelFile.decode(bytes)
        let shapes = try model.graph.inferShapes(batch: 1)
        let report = InspectReport(
            name: model.metadata.name, task: model.metadata.task, source: model.metadata.source,
            createdAt: model.metadata.createdAt, classes: model.metadata.classes,
            format: "\(ModelFile.formatVersion.major).\(ModelFile.formatVersion.minor)", fileBytes: bytes.count,
            parameters: model.graph.parameterCount,
            inputs: model.graph.inputs.map { .init(name: $0.name, shape: $0.shape) },
            outputs: model.graph.outputs.map { .init(name: $0, shape: [-1] + (shapes[$0]?.dropFirst() ?? [])) },
            nodes: model.graph.nodes.map { node in
                .init(name: node.name, op: node.op.kind, inputs: node.inputs, output: node.output, shape: [-1] + (shapes[node.output]?.dropFirst() ?? []))
            },
            features: model.features?.steps.map { step in
                .init(columns: step.columns.count, transform: "\(step.transform)".split(separator: "(").first.map(String.init) ?? "", target: step.target)
            },
            quantization: model.quantization.map { q in
                .init(mode: q.mode.rawValue, calibration: q.calibration?.method, calibrationSamples: q.calibration?.samples,
                      int8Weights: q.weights.count, activations: q.activations.count)
            },
            program: model.quantization == nil ? nil : try Int8Program(model: model, backend: .best).stepKinds,
            testAccuracy: model.metadata.training?.test?.accuracy)
        if json {
            try Output.json(report)
            return
        }
        print(Output.table(["", "value"], [
            ["name", report.name], ["task", report.task], ["source", report.source ?? "-"], ["created", report.createdAt ?? "-"],
            ["file", "\(Output.bytes(report.fileBytes)), format \(report.format)"], ["parameters", "\(report.parameters)"],
            ["inputs", report.inputs.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")],
            ["outputs", report.outputs.map { "\($0.name) \($0.shape)" }.joined(separator: ", ")],
            ["int8", report.quantization.map { "\($0.mode), \($0.int8Weights) weight tensors" + ($0.calibration.map { ", \($0) calibration" } ?? "") } ?? "no"],
            ["test accuracy", Output.percent(report.testAccuracy)],
        ]))
        print()
        print(Output.table(["node", "op", "output shape", "inputs"], report.nodes.map { [$0.name, $0.op, "\($0.shape)", $0.inputs.joined(separator: ", ")] }))
        if let program = report.program {
            print("\nint8 program (\(KernelBackend.best)): " + program.joined(separator: " → "))
        }
    }
}

struct InspectReport: Encodable {
    struct Value: Encodable { var name: String; var shape: [Int] }
    struct NodeInfo: Encodable { var name: String; var op: String; var inputs: [String]; var output: String; var shape: [Int] }
    struct Feature: Encodable { var columns: Int; var transform: String; var target: String }
    struct Quant: Encodable { var mode: String; var calibration: String?; var calibrationSamples: Int?; var int8Weights: Int; var activations: Int }
    var name: String
    var task: String
    var source: String?
    var createdAt: String?
    var classes: [String]?
    var format: String
    var fileBytes: Int
    var parameters: Int
    var inputs: [Value]
    var outputs: [Value]
    var nodes: [NodeInfo]
    var features: [Feature]?
    var quantization: Quant?
    var program: [String]?
    var testAccuracy: Float?
}
