/// Feature columns with a label column taken out.
public struct LabeledData: Sendable, Equatable {
    /// The feature columns.
    public var features: DataTable
    /// The raw label of each row.
    public var labels: [String]

    /// Splits `table` into features and the labels in column `label`.
    public init(_ table: DataTable, label: String) throws(ModelError) {
        labels = try table.cells(label).map(\.trimmed)
        features = try table.dropping(label)
        if let empty = labels.firstIndex(of: "") {
            throw ModelError(.invalidData, "row \(empty + 1) has no label in column '\(label)'")
        }
    }

    /// The labels as numbers [rows, 1] (regression targets); the error names the row.
    public func numericTargets() throws(ModelError) -> Tensor {
        var values = [Float](repeating: 0, count: labels.count)
        for (row, cell) in labels.enumerated() {
            guard let v = Float(cell), v.isFinite else {
                throw ModelError(.invalidData, "row \(row + 1): label '\(cell)' is not a finite number")
            }
            values[row] = v
        }
        return Tensor(shape: [labels.count, 1], scalars: values)
    }

    /// The rows at `indices`.
    public func selecting(rows indices: [Int]) throws(ModelError) -> LabeledData {
        var copy = self
        copy.features = try features.selecting(rows: indices)
        copy.labels = indices.map { labels[$0] }
        return copy
    }

    /// A deterministic split: the last `fraction` of a seeded shuffle is the test part.
    public func split(testFraction fraction: Double, seed: UInt64) throws(ModelError) -> (train: LabeledData, test: LabeledData) {
        guard fraction > 0, fraction < 1 else { throw ModelError(.invalidArgument, "the test fraction must be between 0 and 1") }
        var random = RandomSource(seed: seed)
        let order = random.permutation(labels.count)
        let testCount = max(1, Int((Double(labels.count) * fraction).rounded()))
        return (try selecting(rows: Array(order.dropLast(testCount))), try selecting(rows: Array(order.suffix(testCount))))
    }
}
