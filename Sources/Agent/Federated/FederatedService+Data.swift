import Core

/// Reading the model and the local data for a task, and timing a local epoch.
extension FederatedService {
    /// Everything a task trains from.
    struct Prepared: Sendable {
        /// The float graph (its parameters are replaced by the task's global ones).
        var graph: Graph
        /// Its parameter layout.
        var layout: ParameterLayout
        /// The local feeds and targets.
        var built: LocalDataBuilder.Built
        /// The estimated time of one local epoch over all examples, seconds (0 for `evaluate`).
        var secondsPerEpoch: Double
    }

    /// Reads version `version` of the task's model and the newest labelled rows, and (on the
    /// training thread) builds the feeds and times a short training run to estimate an epoch.
    func prepare(_ task: FLTask, version: String) async throws(FederatedAgentError) -> Prepared {
        let name = task.modelName.rawValue
        let served: ServedModel
        do {
            served = try registry.model(name, version: version)
        } catch {
            throw FederatedAgentError(.model, "model '\(name)' \(version) is not loaded: \(error.message)", underlying: error)
        }
        let model: Model
        do {
            model = try await loadModel(name, version)
        } catch {
            throw FederatedAgentError(.model, "cannot read model '\(name)' \(version) for training: \(error)", underlying: error)
        }
        let examples: [LabelledExample]
        do {
            examples = try await store.latestLabelledExamples(modelName: name, limit: configuration.maxExamples)
        } catch {
            throw FederatedAgentError(.storage, "cannot read labelled examples: \(error.message)", underlying: error)
        }
        let table = localData()
        let builder = LocalDataBuilder(model: model, signature: served.signature)
        let fit = task.kind == "fit"
        let batchSize = task.batchSize
        let result = await TrainingThread.run(niceness: configuration.niceness) {
            () -> Result<Prepared, FederatedAgentError> in
            do throws(FederatedAgentError) {
                let built = try builder.build(examples: examples, table: table)
                let layout = ParameterLayout(graph: model.graph)
                let seconds = try fit ? Self.timeEpoch(model: model, data: built.data, batchSize: batchSize) : 0
                return .success(Prepared(graph: model.graph, layout: layout, built: built, secondsPerEpoch: seconds))
            } catch {
                return .failure(error)
            }
        }
        let prepared = try result.get()
        if prepared.built.dropped > 0 {
            log("federated: \(task.id): \(prepared.built.dropped) labelled rows do not fit the model and were left out")
        }
        return prepared
    }

    /// The local data file's rows (read once; a file that cannot be read is logged and ignored).
    func localData() -> DataTable? {
        if let cached = localTable { return cached }
        guard let path = configuration.localDataFile else { return nil }
        var table: DataTable?
        do {
            table = try CSV.parse(try FileIO.read(path))
        } catch {
            log("federated: cannot read federated.localDataFile: \(error.message)")
        }
        if let rows = table?.rowCount, rows > configuration.maxExamples, let full = table {
            table = try? full.selecting(rows: Array((rows - configuration.maxExamples)..<rows))
        }
        localTable = .some(table)
        return table
    }

    /// Seconds one epoch over `data` takes, extrapolated from one epoch over a small slice
    /// (a copy of the graph; the result is thrown away).
    static func timeEpoch(model: Model, data: FederatedClient.LocalData, batchSize: Int) throws(FederatedAgentError) -> Double {
        let total = data.targets.count
        guard total > 0 else { return 0 }
        let rows = min(total, max(2 * batchSize, 64))
        var feeds: [String: Tensor] = [:]
        for (name, tensor) in data.feeds {
            let width = tensor.shape.dropFirst().reduce(1, *)
            feeds[name] = Tensor(shape: [rows] + tensor.shape.dropFirst(), scalars: Array(tensor.scalars.prefix(rows * width)))
        }
        let targets = data.targets.gather(Array(0..<rows))
        let loss: Loss = if case .classes = targets { .softmaxCrossEntropy } else { .meanSquaredError }
        var graph = model.graph
        let started = ContinuousClock.now
        do {
            _ = try Trainer(
                config: TrainingConfig(epochs: 1, batchSize: batchSize, optimizer: .sgd(learningRate: 1e-6), loss: loss, seed: 1)
            ).fit(&graph, feeds: feeds, targets: targets)
        } catch {
            throw FederatedAgentError(.training, "a trial training step failed: \(error.message)", underlying: error)
        }
        return started.duration(to: .now).seconds * Double(total) / Double(rows)
    }
}
