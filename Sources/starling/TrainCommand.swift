import ArgumentParser
import Core
import Foundation

/// Options that say how raw columns become model inputs.
struct FeatureOptions: ParsableArguments {
    @Option(help: "Numeric scaling: none, standard, minmax or divide:N.")
    var scale = "none"
    @Option(help: "Text columns to one-hot encode (comma separated).")
    var categorical: String?
    @Option(help: "Bucketize a numeric column: COL:B1,B2,... (repeatable).")
    var bucketize: [String] = []
    @Option(help: "Treat the numeric columns as one image HxWxC (row-major, channels last), e.g. 8x8x1.")
    var image: String?
    @Option(help: "Text columns: hashed tokens averaged by an embedding bag (comma separated).")
    var text: String?
    @Option(name: .customLong("text-buckets"), help: "Hash buckets for text tokens.")
    var textBuckets = 4096
    @Option(name: .customLong("max-tokens"), help: "Tokens kept per text cell.")
    var maxTokens = 32
    @Option(name: .customLong("embedding-dim"), help: "Width of the text embedding.")
    var embeddingDim = 16

    func recipe() throws -> FeatureRecipe {
        var recipe = FeatureRecipe(scaling: try .init(parsing: scale))
        recipe.categorical = categorical?.split(separator: ",").map(String.init) ?? []
        recipe.text = text?.split(separator: ",").map(String.init) ?? []
        recipe.textBuckets = textBuckets
        recipe.maxTokens = maxTokens
        for spec in bucketize {
            let parts = spec.split(separator: ":", maxSplits: 1)
            let bounds = parts.count == 2 ? parts[1].split(separator: ",").compactMap { Float($0) } : []
            guard parts.count == 2, !bounds.isEmpty, bounds.count == parts[1].split(separator: ",").count else {
                throw ValidationError("--bucketize takes COL:B1,B2,..., got '\(spec)'")
            }
            recipe.buckets[String(parts[0])] = bounds
        }
        if let image {
            let dims = image.split(separator: "x").compactMap { Int($0) }
            guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else { throw ValidationError("--image takes HxWxC, got '\(image)'") }
            recipe.image = dims
        }
        return recipe
    }
}

/// Options that pick the training and test rows.
struct DataOptions: ParsableArguments {
    @Option(help: "Training data (CSV with a header row).")
    var data: String
    @Option(help: "Name of the label column.")
    var label: String
    @Option(help: "Separate test data (CSV).")
    var test: String?
    @Option(name: .customLong("test-split"), help: "Hold out this fraction of the data for testing (seeded).")
    var testSplit: Double?
    @Option(help: "JSON file with train_indices and test_indices (0-based rows of --data).")
    var split: String?

    func load(seed: UInt64) throws -> (train: LabeledData, test: LabeledData?) {
        let all = try LabeledData(readTable(data), label: label)
        if [test != nil, testSplit != nil, split != nil].filter({ $0 }).count > 1 {
            throw ValidationError("use only one of --test, --test-split and --split")
        }
        if let split {
            let rows = try DataSplit.read(path: split)
            return (try all.selecting(rows: rows.trainIndices), try all.selecting(rows: rows.testIndices))
        }
        if let testSplit {
            let parts = try all.split(testFraction: testSplit, seed: seed)
            return (parts.train, parts.test)
        }
        if let test { return (all, try LabeledData(readTable(test), label: label)) }
        return (all, nil)
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model on a CSV file and write a model file.")

    @OptionGroup var dataOptions: DataOptions
    @OptionGroup var features: FeatureOptions
    @Option(help: "Architecture: logreg, mlp:H1,H2,... or cnn:LAYERS (e.g. cnn:conv32k5,pool2,dense128; cnn:fedavg).")
    var arch = "mlp:128,64"
    @Option(help: "classification or regression.")
    var task = "classification"
    @Option(help: "Passes over the training data.")
    var epochs = 30
    @Option(name: .customLong("batch-size"), help: "Samples per step.")
    var batchSize = 32
    @Option(help: "adam or sgd.")
    var optimizer = "adam"
    @Option(help: "Learning rate (default 0.001 for adam, 0.1 for sgd).")
    var lr: Float?
    @Option(help: "SGD momentum.")
    var momentum: Float = 0
    @Option(name: .customLong("weight-decay"), help: "L2 weight decay (decoupled for adam).")
    var weightDecay: Float = 0
    @Option(name: .customLong("clip-norm"), help: "Clip the global gradient norm.")
    var clipNorm: Float?
    @Option(help: "Seed for initialisation, shuffling and splits.")
    var seed: UInt64 = 1
    @Option(help: "Model name stored in the file (default: the output file's name).")
    var name: String?
    @Option(help: "Output model file.")
    var out: String
    @Flag(help: "Print the result as JSON.")
    var json = false
    @Flag(help: "No per-epoch progress.")
    var quiet = false

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard ["classification", "regression"].contains(task) else { throw ValidationError("--task is classification or regression") }
        guard ["adam", "sgd"].contains(optimizer) else { throw ValidationError("--optimizer is adam or sgd") }
    }

    func run() throws {
        let (train, test) = try dataOptions.load(seed: seed)
        let architecture = try Architecture(parsing: arch)
        let optimizerConfig: OptimizerConfig =
            optimizer == "adam"
            ? .adam(learningRate: lr ?? 1e-3, weightDecay: weightDecay)
            : .sgd(learningRate: lr ?? 0.1, momentum: momentum, weightDecay: weightDecay)
        let config = TrainingConfig(
            epochs: epochs, batchSize: batchSize, optimizer: optimizerConfig, loss: .softmaxCrossEntropy, seed: seed,
            clipNorm: clipNorm)
        let training = SupervisedTraining(
            .init(
                name: name ?? URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent, task: task,
                architecture: architecture, features: try features.recipe(), config: config,
                textBuckets: features.textBuckets, embeddingDimension: features.embeddingDim))
        if !quiet { Output.note("training \(architecture) on \(train.labels.count) rows, \(epochs) epochs") }
        let result = try training.run(train: train, test: test, labelColumn: dataOptions.label) { report in
            guard !quiet else { return }
            var line = String(format: "epoch %3d/%d  loss %.4f", report.epoch, epochs, report.trainLoss)
            if let a = report.trainAccuracy { line += "  train " + Output.percent(a) }
            if let a = report.validationAccuracy { line += "  test " + Output.percent(a) }
            if let l = report.validationLoss, report.validationAccuracy == nil { line += String(format: "  test loss %.4f", l) }
            Output.note(line)
        }
        let (graph, reports, testResult, seconds) = (result.model.graph, result.reports, result.test, result.seconds)
        try ModelFile.write(result.model, path: out)
        let size = try FileIO.size(out)
        let summary = TrainSummary(
            out: out, parameters: graph.parameterCount, epochs: epochs, seconds: seconds, fileBytes: size,
            trainLoss: reports.last?.trainLoss, trainAccuracy: reports.last?.trainAccuracy, test: testResult)
        if json {
            try Output.json(summary)
        } else {
            var rows = [
                ["model file", out], ["parameters", "\(graph.parameterCount)"], ["file size", Output.bytes(size)],
                ["training time", String(format: "%.2f s", seconds)],
                ["final train loss", String(format: "%.4f", reports.last?.trainLoss ?? 0)],
            ]
            if let t = testResult {
                rows.append(["test loss", String(format: "%.4f", t.loss)])
                if let a = t.accuracy { rows.append(["test accuracy", Output.percent(a)]) }
            }
            print(Output.table(["", "value"], rows))
        }
    }
}

/// What `train --json` prints.
struct TrainSummary: Encodable {
    var out: String
    var parameters: Int
    var epochs: Int
    var seconds: Double
    var fileBytes: Int
    var trainLoss: Float?
    var trainAccuracy: Float?
    var test: EvaluationResult?
}
