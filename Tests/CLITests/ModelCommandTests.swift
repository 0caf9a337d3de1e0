import Foundation
import Testing

/// `starling model ...` end to end through the real executable: happy paths and every kind of
/// bad input, which must give a message and a non-zero exit, never a crash.
@Suite("starling model CLI", .serialized)
final class ModelCommandTests {
    let dir = try! CLIRunner.temporaryDirectory()

    deinit { CLIRunner.removeDirectory(dir) }
    let split = "data/digits_dirichlet05_20clients.json"

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func train(_ out: String, extra: [String] = []) throws -> CLIRunner.Result {
        try CLIRunner.run(
            ["model", "train", "--data", "data/digits.csv", "--label", "label", "--split", split, "--arch", "logreg",
             "--scale", "divide:16", "--epochs", "5", "--lr", "0.01", "--quiet", "--json", "--out", out] + extra)
    }

    @Test("train, quantize, eval, predict, inspect and compare work together")
    func happyPath() throws {
        let model = dir + "/m.starling"
        let trained = try train(model)
        #expect(trained.status == 0, "\(trained.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(trained.stdout.utf8)) as! [String: Any]
        let test = summary["test"] as! [String: Any]
        #expect((test["accuracy"] as! Double) > 0.85)

        let int8 = dir + "/m8.starling"
        let q = try CLIRunner.run(["model", "quantize", model, "--calibration", "data/digits.csv", "--split", split, "--out", int8])
        #expect(q.status == 0, "\(q.stderr)")

        let eval = try CLIRunner.run(["model", "eval", int8, "--data", "data/digits.csv", "--split", split, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let metrics = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        #expect(metrics["samples"] as? Int == 360)
        #expect((metrics["accuracy"] as! Double) > 0.85)
        #expect((metrics["perClass"] as! [Any]).count == 10)

        let predict = try CLIRunner.run(["model", "predict", int8, "--data", "data/digits.csv", "--json", "--backend", "reference"])
        #expect(predict.status == 0, "\(predict.stderr)")
        let lines = predict.stdout.split(separator: "\n")
        #expect(lines.count == 1797)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        #expect((first["outputs"] as! [Double]).count == 10)
        #expect(first["label"] as? String == "0")

        let inspect = try CLIRunner.run(["model", "inspect", int8, "--json"])
        #expect(inspect.status == 0)
        let report = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
        #expect((report["quantization"] as! [String: Any])["mode"] as? String == "static")
        #expect((report["program"] as! [String]).contains("dense:f32"))

        let compare = try CLIRunner.run(["model", "compare", model, int8, "--data", "data/digits.csv", "--split", split, "--json"])
        #expect(compare.status == 0, "\(compare.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(compare.stdout.utf8)) as! [[String: Any]]
        #expect(rows.count == 2 && (rows[1]["agreement"] as! Double) > 0.97)
    }

    @Test("bad data gives a message naming the problem and exit status 1")
    func badData() throws {
        let ragged = try write("ragged.csv", "a,b,label\n1,2,0\n3,0\n")
        let text = try write("text.csv", "a,b,label\n1,2,0\n3,x,1\n")
        let nan = try write("nan.csv", "a,b,label\n1,nan,0\n3,4,1\n")
        let cases: [([String], String)] = [
            (["--data", ragged, "--label", "label"], "line 3"),
            (["--data", text, "--label", "label"], "'x' is not a number"),
            (["--data", nan, "--label", "label"], "not a finite number"),
            (["--data", "data/digits.csv", "--label", "digit"], "no column 'digit'"),
            (["--data", dir + "/missing.csv", "--label", "label"], "cannot open"),
            (["--data", "data/digits.csv", "--label", "label", "--arch", "transformer"], "unknown architecture"),
            (["--data", "data/digits.csv", "--label", "label", "--scale", "log"], "unknown scaling"),
        ]
        for (arguments, message) in cases {
            let result = try CLIRunner.run(["model", "train", "--epochs", "1", "--out", dir + "/x.starling"] + arguments)
            #expect(result.failedCleanly, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test("bad model files and mismatched inputs are refused")
    func badModels() throws {
        let model = dir + "/good.starling"
        #expect(try train(model).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        let truncated = dir + "/truncated.starling"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))
        var flipped = bytes
        flipped[flipped.count / 3] ^= 0x10
        let corrupt = dir + "/corrupt.starling"
        try flipped.write(to: URL(fileURLWithPath: corrupt))
        var newer = bytes
        newer[8] = 9
        let future = dir + "/future.starling"
        try newer.write(to: URL(fileURLWithPath: future))
        let notAModel = try write("notes.starling", "hello")
        let narrow = try write("narrow.csv", "px00,px01,label\n1,2,0\n")
        let cases: [([String], String)] = [
            (["inspect", truncated], "truncated"),
            (["inspect", corrupt], "corrupt"),
            (["inspect", future], "upgrade"),
            (["inspect", notAModel], "not a Starling model file"),
            (["predict", model, "--data", narrow], "no column"),
            (["eval", model, "--data", "data/digits.csv", "--label", "nope"], "no column 'nope'"),
            (["predict", model, "--data", "data/digits.csv", "--backend", "quantum"], "unknown backend"),
            (["quantize", model, "--out", dir + "/q.starling"], "--calibration"),
        ]
        for (arguments, message) in cases {
            let result = try CLIRunner.run(["model"] + arguments)
            #expect(result.failedCleanly, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }
}
