import Core
import Foundation

/// Writes human tables and machine JSON for the CLI.
enum Output {
    /// Prints `value` as pretty, key-sorted JSON on standard output.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Progress and notes for people go to standard error, so stdout stays parseable.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Renders rows as an aligned text table with a header rule.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == 0 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }

    /// A byte count for people (KiB/MiB).
    static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1 << 20 { return String(format: "%.1f KiB", Double(n) / 1024) }
        return String(format: "%.2f MiB", Double(n) / Double(1 << 20))
    }

    /// A percentage with one decimal.
    static func percent(_ x: Float?) -> String {
        guard let x else { return "-" }
        return String(format: "%.1f %%", Double(x) * 100)
    }
}

/// Reads a CSV file into a table, with the path in the error.
func readTable(_ path: String) throws(ModelError) -> DataTable {
    do {
        return try CSV.parse(try FileIO.read(path))
    } catch {
        throw ModelError(error.code, "\(path): \(error.message)", underlying: error.underlying)
    }
}
