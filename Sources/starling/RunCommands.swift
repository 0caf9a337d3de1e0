import ArgumentParser
import Core
import Foundation

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Accuracy, loss and per-class counts of a model on labelled data.")

    @Argument(help: "Model file.")
    var model: String
    @Option(help: "Labelled data (CSV).")
    var data: String
    @Option(help: "Label column (default: the one the model was trained on).")
    var label: String?
    @Option(help: "JSON split file: evaluate only its test_indices rows.")
    var split: String?
    @OptionGroup var runOptions: RunOptions
    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let model = try ModelFile.read(path: model)
        guard let label = label ?? model.metadata.labelColumn else { throw ValidationError("give --label") }
        var data = try LabeledData(readTable(data), label: label)
        if let split { data = try data.selecting(rows: try DataSplit.read(path: split).testIndices) }
        let feeds = try model.inputs(from: data.features)
        let outputs = try runOptions.run(model, feeds)
        let classifier = model.metadata.task == "classification"
        let encoder = ClassEncoder(classes: model.metadata.classes ?? (0..<(outputs.shape.last ?? 0)).map(String.init))
        let targets: Targets = classifier ? .classes(try encoder.encode(data.labels)) : .values(try data.numericTargets())
        let probabilities = model.graph.producer(of: model.graph.outputs[0])?.op == .softmax
        let result = try EvaluationResult.compute(
            outputs: outputs, targets: targets, loss: classifier ? .softmaxCrossEntropy : .meanSquaredError,
            outputsAreProbabilities: probabilities)
        if json {
            try Output.json(result)
            return
        }
        var rows = [["samples", "\(result.samples)"], ["loss", String(format: "%.4f", result.loss)]]
        if let a = result.accuracy { rows.append(["accuracy", Output.percent(a)]) }
        print(Output.table(["", "value"], rows))
        if let perClass = result.perClass {
            print()
            print(Output.table(["class", "support", "correct", "predicted", "recall"], perClass.map { c in
                [encoder.name(c.label), "\(c.support)", "\(c.correct)", "\(c.predicted)",
                 c.support > 0 ? Output.percent(Float(c.correct) / Float(c.support)) : "-"]
            }))
        }
    }
}

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a model on each row of a CSV file.")

    @Argument(help: "Model file.")
    var model: String
    @Option(help: "Input rows (CSV); extra columns such as a label are ignored.")
    var data: String
    @OptionGroup var runOptions: RunOptions
    @Flag(help: "Print one JSON object per row.")
    var json = false

    func run() throws {
        let model = try ModelFile.read(path: model)
        let table = try readTable(data)
        let ignored = Set([model.metadata.labelColumn].compactMap { $0 })
        let outputs = try runOptions.run(model, try model.inputs(from: table, ignoring: ignored))
        let width = outputs.shape.last ?? 1
        let names = model.metadata.classes.map(ClassEncoder.init(classes:))
        let best = outputs.argmaxRows()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for r in 0..<(outputs.shape.first ?? 0) {
                let row = PredictionRow(
                    row: r, outputs: Array(outputs.scalars[(r * width)..<((r + 1) * width)]), argmax: best[r],
                    label: names?.name(best[r]))
                print(String(decoding: try encoder.encode(row), as: UTF8.self))
            }
            return
        }
        var rows: [[String]] = []
        for r in 0..<(outputs.shape.first ?? 0) {
            let values = outputs.scalars[(r * width)..<((r + 1) * width)].map { String(format: "%.4f", $0) }
            rows.append(["\(r)", names?.name(best[r]) ?? "\(best[r])", values.joined(separator: " ")])
        }
        print(Output.table(["row", "argmax", "outputs"], rows))
    }
}

struct PredictionRow: Encodable {
    var row: Int
    var outputs: [Float]
    var argmax: Int
    var label: String?
}
