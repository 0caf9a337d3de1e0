#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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

/// Maps label strings to class indices and back.
public struct ClassEncoder: Sendable, Equatable {
    /// Class names by index.
    public var classes: [String]

    /// An encoder for known class names.
    public init(classes: [String]) {
        self.classes = classes
    }

    /// The sorted distinct labels (numerically when all are numbers).
    public init(fitting labels: [String]) {
        let distinct = Array(Set(labels))
        if distinct.allSatisfy({ Double($0) != nil }) {
            classes = distinct.sorted { Double($0)! < Double($1)! }
        } else {
            classes = distinct.sorted()
        }
    }

    /// Class indices of `labels`; an unknown label is an error naming it.
    public func encode(_ labels: [String]) throws(ModelError) -> [Int] {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var out: [Int] = []
        out.reserveCapacity(labels.count)
        for (row, label) in labels.enumerated() {
            guard let i = index[label] ?? Double(label).flatMap({ v in classes.firstIndex { Double($0) == v } }) else {
                throw ModelError(.invalidData, "row \(row + 1): label '\(label)' is not one of the model's classes")
            }
            out.append(i)
        }
        return out
    }
}

/// Train/test row indices stored as JSON (`train_indices`, `test_indices`, 0-based).
public struct DataSplit: Codable, Sendable, Equatable {
    /// Training rows.
    public var trainIndices: [Int]
    /// Test rows.
    public var testIndices: [Int]
    /// Optional per-client training rows (federated partitions), by client id.
    public var clients: [String: [Int]]?

    enum CodingKeys: String, CodingKey {
        case trainIndices = "train_indices"
        case testIndices = "test_indices"
        case clients
    }

    /// Reads a split file.
    public static func read(path: String) throws(ModelError) -> DataSplit {
        let bytes = try FileIO.read(path)
        do {
            return try JSONDecoder().decode(DataSplit.self, from: Data(bytes))
        } catch {
            throw ModelError(.invalidData, "'\(path)' is not a split file with train_indices and test_indices", underlying: error)
        }
    }
}
