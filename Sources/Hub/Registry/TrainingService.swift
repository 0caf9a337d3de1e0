import Core
import Foundation

/// Datasets kept on the hub and training jobs that turn one into a registered version: the CSV
/// is stored once (content-addressed), a job trains on it, quantizes the result to int8
/// (calibrated on the training rows), and registers it with its lineage (training run, dataset
/// digest, parent).
public struct TrainingService: Sendable {
    /// What `POST /api/v1/models/{name}/train` asks for.
    public struct Request: Sendable, Codable, Equatable {
        /// The version to register.
        public var version: String
        /// The dataset to train on.
        public var dataset: String
        /// Its label column.
        public var label: String
        /// `logreg`, `mlp:H1,H2,...` or `cnn:...` (default `mlp:128,64`).
        public var architecture: String?
        /// Passes over the training rows (default 20).
        public var epochs: Int?
        /// Adam's learning rate (default 0.001).
        public var learningRate: Float?
        /// Samples per step (default 32).
        public var batchSize: Int?
        /// Seed of initialisation, shuffling and the split (default 1).
        public var seed: UInt64?
        /// Numeric scaling: `none`, `standard`, `minmax`, `divide:N` (default `none`).
        public var scale: String?
        /// Rows (0-based) to train and test on; otherwise `testFraction` of the rows (default
        /// 0.2) is held out, seeded.
        public var trainRows: [Int]?
        /// Rows to test on, with `trainRows`.
        public var testRows: [Int]?
        /// The held-out fraction without explicit rows.
        public var testFraction: Double?
        /// `static` (default: int8, calibrated on up to 1,000 training rows), `dynamic` or `none`.
        public var quantize: String?
        /// The parent version (lineage).
        public var parent: String?
    }

    /// A finished job.
    public struct Outcome: Sendable, Encodable {
        /// The registered version.
        public var version: ModelVersion
        /// The training run's id (in the lineage).
        public var trainingRun: String
        /// Training rows.
        public var trainRows: Int
        /// Accuracy on the held-out rows, before quantization.
        public var testAccuracy: Double?
        /// Loss on the held-out rows, before quantization.
        public var testLoss: Double?
        /// Seconds spent training.
        public var seconds: Double
    }

    let registry: RegistryService
    let datasets: any DatasetStore
    let now: @Sendable () -> Int64

    /// The largest dataset accepted.
    public static let maxDatasetBytes = 64 << 20

    // MARK: - Datasets

    /// Stores `csv` as dataset `name` (replacing an earlier one of that name).
    public func putDataset(name: String, csv: [UInt8], by principal: Principal) async throws -> Dataset {
        try principal.require(.operator)
        try RegistryNames.checkModel(name)
        guard !csv.isEmpty, csv.count <= Self.maxDatasetBytes else {
            throw RegistryError(.invalidArgument, "a dataset is 1 byte to \(Self.maxDatasetBytes >> 20) MiB of CSV")
        }
        let table: DataTable
        do {
            table = try CSV.parse(csv)
        } catch {
            throw RegistryError(.invalidArgument, "dataset '\(name)' is not CSV with a header row: \(error.message)")
        }
        let reference = try await registry.mapped { () async throws(HubStoreError) in try await registry.artifacts.put(csv) }
        let dataset = Dataset(
            name: name, digest: reference.digest, size: csv.count, rows: table.rowCount, columns: table.columnNames,
            createdAt: now(), createdBy: principal.subject)
        try await registry.mapped { () async throws(HubStoreError) in
            try await datasets.putDataset(dataset, change: ChangeContext(subject: principal.subject, time: dataset.createdAt))
        }
        return dataset
    }

    /// Dataset `name`.
    public func dataset(name: String, by principal: Principal) async throws -> Dataset {
        try principal.require(.viewer)
        guard let found = try await registry.mapped({ () async throws(HubStoreError) in try await datasets.dataset(name: name) })
        else { throw RegistryError(.notFound, "there is no dataset '\(name)'") }
        return found
    }

    /// Every dataset.
    public func datasets(by principal: Principal) async throws -> [Dataset] {
        try principal.require(.viewer)
        return try await registry.mapped { () async throws(HubStoreError) in try await datasets.datasets() }
    }

    // MARK: - Training

    /// Trains `model` as `request` says and registers the result.
    public func train(model: String, _ request: Request, by principal: Principal) async throws -> Outcome {
        try principal.require(.operator)
        _ = try await registry.model(named: model)
        let version = try RegistryNames.version(request.version)
        let parent = try request.parent.map { try RegistryNames.version($0) }
        let dataset = try await self.dataset(name: request.dataset, by: principal)
        let csv = try await registry.mapped { () async throws(HubStoreError) in try await registry.artifacts.get(dataset.digest) }
        let epochs = request.epochs ?? 20
        let batchSize = request.batchSize ?? 32
        guard (1...10_000).contains(epochs), (1...65_536).contains(batchSize) else {
            throw RegistryError(.invalidArgument, "epochs must be within 1...10000 and batchSize within 1...65536")
        }
        let quantize = request.quantize ?? "static"
        guard ["static", "dynamic", "none"].contains(quantize) else {
            throw RegistryError(.invalidArgument, "quantize '\(quantize)' must be static, dynamic or none")
        }
        let run = "hub-train-" + (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        // Training holds a core for seconds to minutes: a thread of its own, never the cooperative pool.
        let (file, result, trainRows) = try await Self.offPool {
            try Self.trainBlocking(model: model, request, csv: csv, epochs: epochs, batchSize: batchSize, quantize: quantize)
        }
        var metadata: [String: JSONValue] = ["dataset": .string(dataset.name), "trainRows": .number(Double(trainRows))]
        if let accuracy = result.test?.accuracy { metadata["accuracy"] = .number(Double(accuracy)) }
        if let loss = result.test?.loss { metadata["testLoss"] = .number(Double(loss)) }
        let registered = try await registry.registerVersion(
            model: model, version: version, modelFile: file, metadata: metadata,
            lineage: Lineage(parent: parent, trainingRun: run, dataDigests: [dataset.digest]), by: principal)
        return Outcome(
            version: registered, trainingRun: run, trainRows: trainRows, testAccuracy: result.test?.accuracy.map(Double.init),
            testLoss: result.test.map { Double($0.loss) }, seconds: result.seconds)
    }

    private static func trainBlocking(
        model: String, _ request: Request, csv: [UInt8], epochs: Int, batchSize: Int, quantize: String
    ) throws -> ([UInt8], SupervisedTraining.Result, Int) {
        do {
            let all = try LabeledData(try CSV.parse(csv), label: request.label)
            let seed = request.seed ?? 1
            let train: LabeledData
            let test: LabeledData?
            if let rows = request.trainRows {
                train = try all.selecting(rows: rows)
                test = try request.testRows.map { try all.selecting(rows: $0) }
            } else {
                let parts = try all.split(testFraction: request.testFraction ?? 0.2, seed: seed)
                (train, test) = (parts.train, parts.test)
            }
            let settings = SupervisedTraining.Settings(
                name: model, architecture: try Architecture(parsing: request.architecture ?? "mlp:128,64"),
                features: FeatureRecipe(scaling: try .init(parsing: request.scale ?? "none")),
                config: TrainingConfig(
                    epochs: epochs, batchSize: batchSize, optimizer: .adam(learningRate: request.learningRate ?? 1e-3, weightDecay: 0),
                    loss: .softmaxCrossEntropy, seed: seed))
            let result = try SupervisedTraining(settings).run(train: train, test: test, labelColumn: request.label)
            var trained = result.model
            switch quantize {
            case "static":
                let rows = min(train.features.rowCount, 1000)
                let calibration = try train.features.selecting(rows: Array(0..<rows))
                trained = try Quantizer().quantize(trained, calibrationFeeds: try trained.inputs(from: calibration))
            case "dynamic":
                trained = try Quantizer().quantize(trained)
            default:
                break
            }
            trained.metadata.source = "hub-train" + (quantize == "none" ? "" : "+quantize")
            return (try ModelFile.encode(trained), result, train.labels.count)
        } catch let error as RegistryError {
            throw error
        } catch let error as ModelError {
            throw RegistryError(.invalidArgument, "training failed: \(error.message)", underlying: error)
        }
    }

    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
