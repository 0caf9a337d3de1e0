import Foundation

/// Tables, times and JSON as the hub commands print them.
enum HubOutput {
    /// Pretty JSON with sorted keys (slashes as they are: audit targets are paths).
    static func json(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    /// Left-aligned columns under an upper-case header, two spaces apart; a row of `-` when
    /// there are no rows, so an empty list still says so.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i < widths.count ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) : cell
            }.joined(separator: "  ").replacing(/\s+$/, with: "")
        }
        let body = rows.isEmpty ? ["(none)"] : rows.map(line)
        return ([line(header.map { $0.uppercased() })] + body).joined(separator: "\n")
    }

    /// `name  value` lines, names aligned: one record.
    static func fields(_ pairs: [(String, String)]) -> String {
        let width = pairs.map(\.0.count).max() ?? 0
        return pairs.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .map { $0.replacing(/\s+$/, with: "") }.joined(separator: "\n")
    }

    /// Milliseconds since the epoch as `2026-11-28T10:00:00Z`.
    static func time(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "-" }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// How long before `now` `milliseconds` was: `12s ago`, `5m ago`, `3h ago`, `2d ago`.
    static func ago(_ milliseconds: Int64?, now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        guard let milliseconds else { return "-" }
        let seconds = (now - milliseconds) / 1000
        if seconds < 0 { return "just now" }
        if seconds < 60 { return "\(seconds)s ago" }
        if seconds < 3600 { return "\(seconds / 60)m ago" }
        if seconds < 86_400 { return "\(seconds / 3600)h ago" }
        return "\(seconds / 86_400)d ago"
    }

    /// A duration in milliseconds as people write it: `10m`, `1h30m`, `45s`, `250ms`.
    static func duration(_ milliseconds: Int64) -> String {
        if milliseconds % 1000 != 0 || milliseconds == 0 { return "\(milliseconds)ms" }
        var seconds = milliseconds / 1000
        var text = ""
        for (unit, size) in [("h", Int64(3600)), ("m", 60), ("s", 1)] where seconds >= size {
            text += "\(seconds / size)\(unit)"
            seconds %= size
        }
        return text
    }

    /// Labels as `k=v,k2=v2` in key order.
    static func labels(_ labels: [String: String]?) -> String {
        guard let labels, !labels.isEmpty else { return "-" }
        return labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }

    /// A number with at most four significant decimals, or `-`.
    static func number(_ value: Double?) -> String {
        guard let value else { return "-" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }

    /// A share as a percentage: `25%`, `12.5%`.
    static func percent(_ share: Double?) -> String {
        guard let share else { return "-" }
        return number((share * 1000).rounded() / 10) + "%"
    }
}
