extension FederatedSimulation {
    /// Labelled rows partitioned for a simulation: the clients' data and the held-out test rows,
    /// all through one feature pipeline.
    public struct Dataset: Sendable {
        /// One participant per partition, ordered by client id (numerically when all are numbers).
        public var participants: [Participant]
        /// The test rows.
        public var test: FederatedClient.LocalData
        /// Class names by index (classification).
        public var classes: [String]
        /// The width of one input row after the pipeline.
        public var inputWidth: Int
    }

    /// Splits `data` by `split` (its `clients` partitions and `test_indices`). The pipeline of
    /// `features` is fitted on the training rows of all clients together (a scaling such as
    /// `divide:16` needs no statistics; `standard` uses pooled ones, which a real fleet would
    /// have to agree on beforehand).
    public static func partition(
        _ data: LabeledData, split: DataSplit, features: FeatureRecipe
    ) throws(FederationError) -> Dataset {
        guard let clients = split.clients, !clients.isEmpty else {
            throw FederationError(.invalidArgument, "the split file has no 'clients' partitions")
        }
        let rows = data.labels.count
        let all = split.trainIndices + split.testIndices + clients.values.flatMap { $0 }
        if let bad = all.first(where: { $0 < 0 || $0 >= rows }) {
            throw FederationError(.invalidArgument, "the split names row \(bad); the data has \(rows) rows")
        }
        let ids = clients.keys.sorted { a, b in
            if let x = Int(a), let y = Int(b) { return x < y }
            return a < b
        }
        do {
            let train = try data.selecting(rows: split.trainIndices)
            let pipeline = try features.fit(train.features)
            let encoder = ClassEncoder(fitting: train.labels)
            func local(_ indices: [Int]) throws -> FederatedClient.LocalData {
                let part = try data.selecting(rows: indices)
                return .init(
                    feeds: try pipeline.transform(part.features), targets: .classes(try encoder.encode(part.labels)))
            }
            let participants = try ids.map { Participant(id: "client-\($0)", data: try local(clients[$0]!)) }
            let width = pipeline.outputShapes.first { $0.name == ModelBuilder.inputName }?.shape.reduce(1, *) ?? 0
            return Dataset(
                participants: participants, test: try local(split.testIndices), classes: encoder.classes, inputWidth: width)
        } catch let error as ModelError {
            throw FederationError(.invalidArgument, "the data cannot be partitioned: \(error.message)")
        } catch {
            throw FederationError(.invalidArgument, "the data cannot be partitioned: \(error)")
        }
    }
}
