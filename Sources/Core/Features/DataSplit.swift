#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
