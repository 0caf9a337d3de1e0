import ArgumentParser
import Core
import Foundation

/// `starling dataset`: CSV datasets kept on the hub for training.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset", abstract: "CSV datasets kept on the hub for training jobs.",
        subcommands: [DatasetUpload.self, DatasetList.self])
}

struct DatasetUpload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload", abstract: "Upload (or replace) a CSV dataset with a header row, up to 64 MiB.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The dataset's name.")
    var name: String
    @Argument(help: "The CSV file.")
    var file: String

    func run() async throws {
        try await hub.run { client in
            guard FileIO.exists(file), let size = try? FileIO.size(file) else { throw HubError(.local, "cannot read '\(file)'") }
            let progress = UploadProgress(name: file, total: Int64(size))
            let response = try await client.send(HubRequest("PUT", ["datasets", name], body: .file(file)), progress: progress)
            progress.finish()
            let value = try response.json()
            try hub.show(value) {
                let rows = value["rows"].flatMap(\.integerValue) ?? 0
                let digest = value["digest"]?.string ?? ""
                return "Stored dataset \(name): \(rows) rows, sha256 \(digest.prefix(16))…"
            }
        }
    }
}

struct DatasetList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The hub's datasets.")

    @OptionGroup var hub: HubOptions

    func run() async throws {
        try await hub.run { client in
            let value = try await client.json(HubRequest("GET", ["datasets"]))
            try hub.show(value) {
                guard case .array(let items)? = value["items"] else { return "" }
                return HubOutput.table(
                    ["NAME", "ROWS", "COLUMNS", "SIZE", "SHA-256", "BY"],
                    items.map { item in
                        [
                            item["name"]?.string ?? "", String(item["rows"].flatMap(\.integerValue) ?? 0),
                            String(item["columns"].flatMap { if case .array(let c) = $0 { c.count } else { nil } } ?? 0),
                            Output.bytes(Int(item["size"].flatMap(\.integerValue) ?? 0)),
                            String((item["digest"]?.string ?? "").prefix(16)), item["createdBy"]?.string ?? "",
                        ]
                    })
            }
        }
    }
}

/// `starling registry train`: a training job on the hub that registers the version.
struct RegistryTrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a version on the hub from one of its datasets; the hub quantizes, signs and registers it.",
        discussion: "The command waits for the job (seconds for small models) and prints the test accuracy.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model (create it first: starling registry create).")
    var model: String
    @Argument(help: "The version to register.")
    var version: String
    @Option(help: "The dataset on the hub (starling dataset upload).")
    var dataset: String
    @Option(help: "Its label column.")
    var label: String
    @Option(help: "JSON file with train_indices and test_indices (0-based rows of the dataset).")
    var split: String?
    @Option(name: .customLong("test-split"), help: "Without --split: the fraction held out for testing (seeded).")
    var testSplit: Double?
    @Option(help: "Architecture: logreg, mlp:H1,H2,... or cnn:...")
    var arch = "mlp:128,64"
    @Option(help: "Numeric scaling: none, standard, minmax or divide:N.")
    var scale = "none"
    @Option(help: "Passes over the training rows.")
    var epochs = 20
    @Option(help: "Adam's learning rate.")
    var lr: Double = 0.001
    @Option(name: .customLong("batch-size"), help: "Samples per step.")
    var batchSize = 32
    @Option(help: "Seed for initialisation, shuffling and the split.")
    var seed: Int = 1
    @Option(help: "static (int8, calibrated on training rows), dynamic or none.")
    var quantize = "static"
    @Option(help: "The version this one derives from (lineage).")
    var parent: String?

    func validate() throws {
        if split != nil && testSplit != nil { throw ValidationError("give --split or --test-split, not both") }
        guard ["static", "dynamic", "none"].contains(quantize) else { throw ValidationError("--quantize is static, dynamic or none") }
    }

    func run() async throws {
        try await hub.run { client in
            var body: [String: JSONValue] = [
                "version": .string(version), "dataset": .string(dataset), "label": .string(label),
                "architecture": .string(arch), "scale": .string(scale), "epochs": .integer(Int64(epochs)),
                "learningRate": .number(lr), "batchSize": .integer(Int64(batchSize)), "seed": .integer(Int64(seed)),
                "quantize": .string(quantize),
            ]
            if let parent { body["parent"] = .string(parent) }
            if let testSplit { body["testFraction"] = .number(testSplit) }
            if let split {
                let rows = try DataSplit.read(path: split)
                body["trainRows"] = .array(rows.trainIndices.map { .integer(Int64($0)) })
                body["testRows"] = .array(rows.testIndices.map { .integer(Int64($0)) })
            }
            Output.note("training \(model) \(version) on the hub (\(arch), \(epochs) epochs on dataset \(dataset))")
            let value = try await client.json(HubRequest("POST", ["models", model, "train"], body: .json(.object(body))))
            try hub.show(value) {
                let accuracy = value["testAccuracy"].flatMap(\.doubleValue)
                let seconds = value["seconds"].flatMap(\.doubleValue) ?? 0
                return "Trained and registered \(model) \(version) (run \(value["trainingRun"]?.string ?? "?")): "
                    + "test accuracy \(HubOutput.percent(accuracy)) before quantization, \(String(format: "%.1f", seconds)) s."
            }
        }
    }
}

extension JSONValue {
    /// A whole number, or nil.
    var integerValue: Int64? {
        switch self {
        case .integer(let value): value
        case .number(let value) where value == value.rounded() && abs(value) < 1e15: Int64(value)
        default: nil
        }
    }

    /// A number, or nil.
    var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
}
