import ArgumentParser
import Foundation

/// Command-line values checked here, before anything is sent, so a typo is a usage error (64)
/// that names the flag. Selectors and gates are the hub's grammar and go to it as written.
enum HubArguments {
    /// `k=v,k2=v2` as a dictionary; an empty text is no labels. The hub checks the characters.
    static func labels(_ text: String, flag: String = "--labels") throws(ValidationError) -> [String: String] {
        var labels: [String: String] = [:]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return [:] }
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("\(flag): '\(pair)' is not key=value (e.g. site=north,tier=canary)")
            }
            let key = String(pair[..<equals]).trimmingCharacters(in: .whitespaces)
            guard labels[key] == nil else { throw ValidationError("\(flag): the key '\(key)' is given twice") }
            labels[key] = String(pair[pair.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
        }
        return labels
    }

    /// A duration such as `30s`, `10m`, `1h` or `500ms`, in milliseconds.
    static func duration(_ text: String, flag: String) throws(ValidationError) -> Int64 {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (unit, size) in units where text.hasSuffix(unit) {
            let digits = text.dropLast(unit.count)
            // "ms" also ends in "s": for "10ms" the "s" branch sees "10m", which is not a number.
            if let value = Int64(digits), value > 0, value < Int64.max / size {
                return value * size
            }
        }
        throw ValidationError("\(flag): '\(text)' is not a duration; write a positive number and a unit, e.g. 30s, 10m, 1h")
    }

    /// A percentage such as `5%` or `12.5%` in (0, 100], as a share in (0, 1].
    static func percent(_ text: String, flag: String, below100: Bool = false) throws(ValidationError) -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasSuffix("%"), let value = Double(trimmed.dropLast()), value.isFinite, value > 0,
            below100 ? value < 100 : value <= 100
        else {
            let range = below100 ? "(0, 100)" : "(0, 100]"
            throw ValidationError("\(flag): '\(text)' must be a percentage in \(range), e.g. 50%")
        }
        return value / 100
    }

    /// Phases such as `5%,25%,100%`: each a percentage, increasing.
    static func phases(_ text: String) throws(ValidationError) -> [Double] {
        var shares: [Double] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            shares.append(try percent(String(part), flag: "--phases"))
        }
        guard zip(shares, shares.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw ValidationError("--phases: '\(text)' must increase, e.g. 5%,25%,100%")
        }
        return shares
    }
}
