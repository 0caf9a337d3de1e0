import Core
import Foundation

/// Paths and data shared by the Core tests.
enum TestSupport {
    /// The repository root (tests read the committed data files).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The digits data set and its stratified train/test split.
    static let digits: (train: LabeledData, test: LabeledData) = {
        let table = try! CSV.parse(Array(FileManager.default.contents(atPath: root + "/data/digits.csv")!))
        let data = try! LabeledData(table, label: "label")
        let split = try! DataSplit.read(path: root + "/data/digits_dirichlet05_20clients.json")
        return (try! data.selecting(rows: split.trainIndices), try! data.selecting(rows: split.testIndices))
    }()
}
