extension Model {
    /// Model inputs for the rows of `table`: through the feature pipeline when the model has
    /// one, else the table's numeric columns in order form the single input (reshaped to its
    /// per-sample shape). Columns in `ignoring` (e.g. the label) are skipped.
    public func inputs(from table: DataTable, ignoring: Set<String> = []) throws(ModelError) -> [String: Tensor] {
        if let features { return try features.transform(table) }
        guard graph.inputs.count == 1, let spec = graph.inputs.first else {
            throw ModelError(.invalidInput, "the model has several inputs and no feature pipeline; feed tensors directly")
        }
        let sample = Array(spec.shape.dropFirst())
        guard sample.allSatisfy({ $0 > 0 }) else {
            throw ModelError(.invalidInput, "input '\(spec.name)' has an unknown size \(spec.shape)")
        }
        let columns = table.columnNames.filter { !ignoring.contains($0) }
        let width = sample.reduce(1, *)
        guard columns.count == width else {
            throw ModelError(
                .shapeMismatch, "the data has \(columns.count) feature columns, input '\(spec.name)' takes \(width) (\(sample))")
        }
        let rows = table.rowCount
        var scalars = [Float](repeating: 0, count: rows * width)
        for (c, name) in columns.enumerated() {
            let values = try table.numbers(name)
            for r in 0..<rows { scalars[r * width + c] = values[r] }
        }
        return [spec.name: Tensor(shape: [rows] + sample, scalars: scalars)]
    }
}
