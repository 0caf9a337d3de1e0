/// A table of named columns of raw text cells, as read from CSV.
public struct DataTable: Sendable, Equatable {
    /// Column names in file order.
    public private(set) var columnNames: [String]
    /// Cells per column, `columns[c][row]`.
    public private(set) var columns: [[String]]

    /// A table from column names and equally long columns.
    public init(columnNames: [String], columns: [[String]]) throws(ModelError) {
        guard columnNames.count == columns.count else {
            throw ModelError(.invalidData, "\(columnNames.count) column names for \(columns.count) columns")
        }
        var seen = Set<String>()
        for name in columnNames where !seen.insert(name).inserted {
            throw ModelError(.invalidData, "column '\(name)' appears twice in the header")
        }
        if let first = columns.first, let bad = columns.firstIndex(where: { $0.count != first.count }) {
            throw ModelError(.invalidData, "column '\(columnNames[bad])' has \(columns[bad].count) rows, expected \(first.count)")
        }
        self.columnNames = columnNames
        self.columns = columns
    }

    /// Number of data rows.
    public var rowCount: Int { columns.first?.count ?? 0 }

    /// Index of the column `name`, or an error listing what exists.
    public func index(of name: String) throws(ModelError) -> Int {
        guard let i = columnNames.firstIndex(of: name) else {
            let known = columnNames.prefix(8).joined(separator: ", ") + (columnNames.count > 8 ? ", ..." : "")
            throw ModelError(.invalidData, "no column '\(name)' in the data (columns: \(known))")
        }
        return i
    }

    /// The raw cells of column `name`.
    public func cells(_ name: String) throws(ModelError) -> [String] {
        columns[try index(of: name)]
    }

    /// Column `name` parsed as finite numbers; the error names the row and the cell.
    public func numbers(_ name: String) throws(ModelError) -> [Float] {
        let cells = try cells(name)
        var values = [Float](repeating: 0, count: cells.count)
        for (row, cell) in cells.enumerated() {
            guard let value = Float(cell.trimmed) else {
                throw ModelError(
                    .invalidData, "row \(row + 1), column '\(name)': '\(cell)' is not a number")
            }
            guard value.isFinite else {
                throw ModelError(.nonFinite, "row \(row + 1), column '\(name)': '\(cell)' is not a finite number")
            }
            values[row] = value
        }
        return values
    }

    /// The table without column `name`.
    public func dropping(_ name: String) throws(ModelError) -> DataTable {
        let i = try index(of: name)
        var copy = self
        copy.columnNames.remove(at: i)
        copy.columns.remove(at: i)
        return copy
    }

    /// The rows at `indices`, in that order; the error names the first index out of range.
    public func selecting(rows indices: [Int]) throws(ModelError) -> DataTable {
        if let bad = indices.first(where: { $0 < 0 || $0 >= rowCount }) {
            throw ModelError(.invalidData, "row index \(bad) is outside the table's \(rowCount) rows")
        }
        var copy = self
        copy.columns = columns.map { column in indices.map { column[$0] } }
        return copy
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and carriage returns.
    var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}
