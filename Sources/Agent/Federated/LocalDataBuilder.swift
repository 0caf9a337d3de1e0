import Core

/// Turns the device's labelled rows into graph feeds and targets for `FederatedClient`: logged
/// request inputs (JSON) go through the served model's feature pipeline, rows of a local CSV
/// through the model's own, and labels become class indices (the model's class names) or
/// numeric targets (regression). Rows that do not fit the model are left out and counted.
struct LocalDataBuilder {
    /// The float model (its pipeline, metadata and graph inputs).
    var model: Model
    /// How logged protocol inputs map onto the graph inputs.
    var signature: ModelSignature

    /// What was built.
    struct Built {
        var data: FederatedClient.LocalData
        /// Rows left out (unknown label, inputs not logged in full, several rows per request).
        var dropped: Int
    }

    /// Feeds and targets of `examples`, then of `table` (CSV rows with the label column).
    func build(examples: [LabelledExample], table: DataTable?) throws(FederatedAgentError) -> Built {
        var feeds: [String: [Float]] = [:]
        var shapes: [String: [Int]] = [:]
        var classes: [Int] = []
        var values: [Float] = []
        var dropped = 0
        let classifier = model.metadata.task == "classification"
        let classIndex = Dictionary(
            (model.metadata.classes ?? []).enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })

        func target(_ label: String) -> Bool {
            if classifier {
                guard let index = classIndex[label] else { return false }
                classes.append(index)
            } else {
                guard let value = Float(label), value.isFinite else { return false }
                values.append(value)
            }
            return true
        }

        for example in examples {
            guard let tensors = Self.tensors(fromLog: example.inputs),
                let fed = try? graphFeeds(of: tensors), fed.rows == 1, target(example.label)
            else {
                dropped += 1
                continue
            }
            for (name, tensor) in fed.named {
                feeds[name, default: []].append(contentsOf: tensor.scalars)
                shapes[name] = Array(tensor.shape.dropFirst())
            }
        }
        if let table, table.rowCount > 0 {
            let labelColumn = model.metadata.labelColumn ?? "label"
            let labels: [String]
            let inputs: [String: Tensor]
            do {
                labels = try table.cells(labelColumn)
                inputs = try model.inputs(from: table, ignoring: [labelColumn])
            } catch {
                throw FederatedAgentError(.localData, "the local data file does not fit the model: \(error.message)")
            }
            for (row, label) in labels.enumerated() {
                guard target(label) else {
                    dropped += 1
                    continue
                }
                for (name, tensor) in inputs {
                    let sample = Array(tensor.shape.dropFirst())
                    let width = sample.reduce(1, *)
                    feeds[name, default: []].append(contentsOf: tensor.scalars[(row * width)..<((row + 1) * width)])
                    shapes[name] = sample
                }
            }
        }
        let count = classifier ? classes.count : values.count
        var tensors: [String: Tensor] = [:]
        for (name, scalars) in feeds {
            let sample = shapes[name] ?? []
            guard scalars.count == count * sample.reduce(1, *) else {
                throw FederatedAgentError(.localData, "the local rows give input '\(name)' an inconsistent size")
            }
            tensors[name] = Tensor(shape: [count] + sample, scalars: scalars)
        }
        let targets: Targets = classifier ? .classes(classes) : .values(Tensor(shape: [count, 1], scalars: values))
        return Built(data: FederatedClient.LocalData(feeds: tensors, targets: targets), dropped: dropped)
    }

    /// Graph feeds for logged protocol tensors, with their row count.
    private func graphFeeds(of tensors: [InferenceTensor]) throws(InferenceError) -> (rows: Int, named: [String: Tensor]) {
        let (values, rows) = try signature.feeds(from: tensors)
        return (rows, signature.tensors(values, rows: rows))
    }

    /// The tensors of a prediction log entry (`[{"name":..,"datatype":..,"shape":..,"data":..}]`).
    static func tensors(fromLog json: String) -> [InferenceTensor]? {
        let body = Array("{\"inputs\":\(json)}".utf8)
        return body.withUnsafeBytes { buffer in
            try? InferenceRequest.decode(body: buffer, headerLength: nil).inputs
        }
    }
}
