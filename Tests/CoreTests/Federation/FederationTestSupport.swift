import Core
import Crypto

/// Small models, vectors and digits partitions shared by the federation tests.
enum FederationFixtures {
    /// An MLP 8-16-3 (four tensors) for codec and client tests.
    static let graph = try! ModelBuilder.build(.mlp(hidden: [16]), inputShape: [8], outputs: 3, seed: 3)
    /// Its layout.
    static let layout = ParameterLayout(graph: graph)
    /// A fixed device key.
    static let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: (1...32).map { UInt8($0) })

    /// A seeded vector in the layout with values of mixed magnitude.
    static func vector(seed: UInt64, count: Int = layout.count) -> [Float] {
        var random = RandomSource(seed: seed)
        return (0..<count).map { _ in random.normal() * (random.nextUnitFloat() < 0.1 ? 1 : 0.05) }
    }

    /// `count` rows of 8 features in three linearly separable classes.
    static func data(count: Int, seed: UInt64) -> FederatedClient.LocalData {
        var random = RandomSource(seed: seed)
        var x: [Float] = []
        var labels: [Int] = []
        for i in 0..<count {
            let label = i % 3
            labels.append(label)
            for j in 0..<8 { x.append((j % 3 == label ? 1 : 0) + 0.3 * random.normal()) }
        }
        return .init(feeds: [ModelBuilder.inputName: Tensor(shape: [count, 8], scalars: x)], targets: .classes(labels))
    }

    /// A task frame carrying `global` (float32) for `graph`'s layout.
    static func task(
        global: [Float], layout: ParameterLayout = layout, kind: String = "fit", encoding: String = "float32",
        topK: Double? = nil, clipNorm: Double? = nil, minExamples: Int = 1, lr: Double = 0.1, epochs: Int = 2
    ) throws -> FLTaskFrame {
        var none: [Float]? = nil
        let payload = try UpdateCodec.encode(global, layout: layout, as: .float32, residual: &none)
        let task = FLTask(
            id: "task-1", time: 1_000, roundId: "round-a", roundNumber: 1, kind: kind,
            modelName: ModelName(unchecked: "m"), baseVersion: "1", deadline: 2_000, localEpochs: epochs, batchSize: 8,
            learningRate: lr, clipNorm: clipNorm, encoding: encoding, topKFraction: topK, minExamples: minExamples,
            layoutDigest: layout.digest, globalSize: payload.count, globalSha256: PackageDigest.sha256(payload))
        return try FLTaskFrame(task: task, payload: payload)
    }

    /// Digits partitions (divide:16), the first `clients` of the committed Dirichlet split.
    static func digits(clients: Int) throws -> FederatedSimulation.Dataset {
        let table = try CSV.parse(try FileIO.read(TestSupport.root + "/data/digits.csv"))
        let split = try DataSplit.read(path: TestSupport.root + "/data/digits_dirichlet05_20clients.json")
        var dataset = try FederatedSimulation.partition(
            try LabeledData(table, label: "label"), split: split, features: FeatureRecipe(scaling: .divide(16)))
        dataset.participants = Array(dataset.participants.prefix(clients))
        return dataset
    }
}
