import ArgumentParser
import Core
import Foundation
import ONNXImport

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Import an ONNX model (quantizing it when calibration data is given).")

    @Argument(help: "ONNX model file.")
    var onnx: String
    @Option(help: "Output model file.")
    var out: String
    @Option(help: "Calibration data (CSV): quantize the imported float model statically.")
    var calibration: String?
    @Option(help: "Label column to ignore in the calibration data.")
    var label: String?
    @Option(help: "Activation ranges: minmax or percentile:P.")
    var method = "minmax"
    @Option(help: "Model name (default: the ONNX file's name).")
    var name: String?
    @Option(help: "Import only these graph outputs (comma separated) and the nodes they need.")
    var outputs: String?
    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let name = name ?? URL(fileURLWithPath: onnx).deletingPathExtension().lastPathComponent
        var model = try ONNXImporter.importModel(
            bytes: try FileIO.read(onnx), name: name, outputs: outputs.map { $0.split(separator: ",").map(String.init) })
        model.metadata.source = "onnx:" + URL(fileURLWithPath: onnx).lastPathComponent
        model.metadata.createdAt = ISO8601DateFormatter().string(from: Date())
        if let calibration {
            guard model.quantization == nil else {
                throw ValidationError("the ONNX model is already quantized; drop --calibration")
            }
            let table = try readTable(calibration)
            let feeds = try model.inputs(from: table, ignoring: Set([label].compactMap { $0 }))
            model = try Quantizer(calibration: try CalibrationMethod(parsing: method)).quantize(model, calibrationFeeds: feeds)
        }
        try ModelFile.write(model, path: out)
        let size = try FileIO.size(out)
        if json {
            try Output.json(["out": out, "nodes": "\(model.graph.nodes.count)", "quantized": model.quantization == nil ? "no" : "yes", "bytes": "\(size)"])
        } else {
            print(Output.table(["", "value"], [
                ["model file", out], ["nodes", "\(model.graph.nodes.count)"],
                ["int8", model.quantization.map { $0.mode.rawValue } ?? "no (float32)"], ["size", Output.bytes(size)],
            ]))
        }
    }
}
