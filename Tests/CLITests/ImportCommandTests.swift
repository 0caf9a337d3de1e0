import Foundation
import Testing

/// `starling model import` on the ONNX fixtures, through the real executable.
@Suite("starling model import", .serialized)
final class ImportCommandTests {
    let dir = try! CLIRunner.temporaryDirectory()

    deinit { CLIRunner.removeDirectory(dir) }
    let fixtures = "Tests/ONNXImportTests/Fixtures/ort"

    @Test("an already-quantized QDQ model imports as int8 and runs")
    func quantized() throws {
        let out = dir + "/qdq.starling"
        let result = try CLIRunner.run(["model", "import", fixtures + "/mlp_qdq/model.onnx", "--out", out, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let inspect = try CLIRunner.run(["model", "inspect", out, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
        #expect((report["quantization"] as? [String: Any])?["mode"] as? String == "static")
        #expect(report["source"] as? String == "onnx:model.onnx")
        let rows = "c" + (1..<64).map { ",c\($0)" }.joined() + "\n" + (0..<64).map { _ in "0.5" }.joined(separator: ",") + "\n"
        try rows.write(toFile: dir + "/rows.csv", atomically: true, encoding: .utf8)
        let predict = try CLIRunner.run(["model", "predict", out, "--data", dir + "/rows.csv", "--json"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let row = try JSONSerialization.jsonObject(with: Data(predict.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        let probabilities = row["outputs"] as! [Double]
        #expect(probabilities.count == 10 && abs(probabilities.reduce(0, +) - 1) < 0.05)
    }

    @Test("a float model imports and quantizes with calibration rows")
    func floatWithCalibration() throws {
        let out = dir + "/cal.starling"
        var rows = "c" + (1..<64).map { ",c\($0)" }.joined() + "\n"
        for r in 0..<40 {
            let cells: [String] = (0..<64).map { c in String(Double((r * 7 + c * 3) % 17) / 17) }
            rows += cells.joined(separator: ",") + "\n"
        }
        try rows.write(toFile: dir + "/cal.csv", atomically: true, encoding: .utf8)
        let result = try CLIRunner.run(["model", "import", fixtures + "/mlp_gemm/model.onnx", "--calibration", dir + "/cal.csv", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("static"))
    }

    @Test("unsupported ops, foreign domains and garbage are refused with their names")
    func refused() throws {
        try Data("not onnx".utf8).write(to: URL(fileURLWithPath: dir + "/garbage.onnx"))
        let cases: [(String, [String], String)] = [
            (fixtures + "/unsupported_op/model.onnx", [], "LSTM"),
            (fixtures + "/sklearn_mlp/model.onnx", [], "ArgMax"),
            (dir + "/garbage.onnx", [], "ONNX"),
            (dir + "/missing.onnx", [], "missing.onnx"),
        ]
        for (path, extra, message) in cases {
            let result = try CLIRunner.run(["model", "import", path, "--out", dir + "/x.starling"] + extra)
            #expect(result.failedCleanly, "\(path)")
            #expect(result.stderr.contains(message), "\(path): \(result.stderr)")
        }
        let partial = try CLIRunner.run(["model", "import", fixtures + "/sklearn_mlp/model.onnx", "--outputs", "probabilities", "--out", dir + "/sk.starling"])
        #expect(partial.status == 0, "\(partial.stderr)")
    }
}
