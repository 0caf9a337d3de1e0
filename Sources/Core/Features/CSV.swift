/// RFC 4180 comma-separated values: a header row, then data rows of the same width.
public enum CSV {
    /// Parses CSV text (UTF-8 bytes). Quoted fields may hold commas, quotes (doubled) and
    /// newlines; a blank final line is ignored. Every row must have as many fields as the header.
    public static func parse(_ bytes: [UInt8]) throws(ModelError) -> DataTable {
        var rows: [[String]] = []
        var field: [UInt8] = []
        var row: [String] = []
        var inQuotes = false
        var fieldWasQuoted = false
        var line = 1
        var rowStartLine = 1
        var i = 0
        func endField() {
            row.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            fieldWasQuoted = false
        }
        var rowHasBytes = false
        func endRow() throws(ModelError) {
            let blank = row.isEmpty && field.isEmpty && !fieldWasQuoted && !rowHasBytes
            endField()
            rowHasBytes = false
            if !blank {
                if let header = rows.first, row.count != header.count {
                    throw ModelError(
                        .invalidData,
                        "line \(rowStartLine): \(row.count) field(s), but the header has \(header.count)")
                }
                rows.append(row)
            }
            row.removeAll(keepingCapacity: true)
        }
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        var closedQuote = false
        while i < bytes.count {
            let b = bytes[i]
            if b != newline && b != cr { rowHasBytes = true }
            if closedQuote && b != comma && b != newline && b != cr {
                throw ModelError(.invalidData, "line \(line): text after the closing quote of a field")
            }
            closedQuote = false
            if inQuotes {
                if b == quote {
                    if i + 1 < bytes.count && bytes[i + 1] == quote {
                        field.append(quote)
                        i += 1
                    } else {
                        inQuotes = false
                        closedQuote = true
                    }
                } else {
                    if b == newline { line += 1 }
                    field.append(b)
                }
            } else if b == quote {
                guard field.isEmpty, !fieldWasQuoted else {
                    throw ModelError(.invalidData, "line \(line): a quote in the middle of an unquoted field")
                }
                inQuotes = true
                fieldWasQuoted = true
            } else if b == comma {
                endField()
            } else if b == newline {
                try endRow()
                line += 1
                rowStartLine = line
            } else if b == cr && i + 1 < bytes.count && bytes[i + 1] == newline {
                // CRLF: the newline ends the row.
            } else {
                field.append(b)
            }
            i += 1
        }
        guard !inQuotes else { throw ModelError(.invalidData, "line \(rowStartLine): a quoted field is never closed") }
        if !field.isEmpty || !row.isEmpty || fieldWasQuoted { try endRow() }
        guard let header = rows.first else { throw ModelError(.invalidData, "the CSV is empty (no header row)") }
        if let blank = header.firstIndex(where: { $0.trimmed.isEmpty }) {
            throw ModelError(.invalidData, "header column \(blank + 1) has no name")
        }
        let body = rows.dropFirst()
        let columns = header.indices.map { c in body.map { $0[c] } }
        return try DataTable(columnNames: header.map(\.trimmed), columns: columns)
    }

    /// Renders a table as CSV, quoting fields that need it.
    public static func render(_ table: DataTable) -> String {
        func escape(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacing("\"", with: "\"\"") + "\""
        }
        var out = table.columnNames.map(escape).joined(separator: ",") + "\n"
        for r in 0..<table.rowCount {
            out += table.columns.map { escape($0[r]) }.joined(separator: ",") + "\n"
        }
        return out
    }
}
