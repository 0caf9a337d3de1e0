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

    /// The name of class `index` (its number when out of range).
    public func name(_ index: Int) -> String {
        index >= 0 && index < classes.count ? classes[index] : "\(index)"
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
