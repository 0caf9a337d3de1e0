/// A label selector: which devices a group contains.
///
/// Syntax (a subset of Kubernetes' set-based selectors): requirements separated by commas, all
/// of which must hold; an empty selector matches every device.
///
/// | requirement | holds when |
/// |---|---|
/// | `k=v` (or `k==v`) | label `k` is `v` |
/// | `k!=v` | label `k` is absent or not `v` |
/// | `k in (a,b)` | label `k` is `a` or `b` |
/// | `k notin (a,b)` | label `k` is absent or neither `a` nor `b` |
/// | `k` | label `k` is present |
/// | `!k` | label `k` is absent |
public struct LabelSelector: Sendable, Equatable, CustomStringConvertible {
    /// One requirement.
    public enum Requirement: Sendable, Equatable {
        /// The label equals the value.
        case equals(String, String)
        /// The label is absent or differs.
        case notEquals(String, String)
        /// The label is one of the values.
        case `in`(String, [String])
        /// The label is absent or none of the values.
        case notIn(String, [String])
        /// The label is present.
        case exists(String)
        /// The label is absent.
        case absent(String)

        /// Whether `labels` satisfy the requirement.
        public func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .absent(let key): labels[key] == nil
            }
        }

        /// The requirement in selector syntax.
        public var text: String {
            switch self {
            case .equals(let key, let value): "\(key)=\(value)"
            case .notEquals(let key, let value): "\(key)!=\(value)"
            case .in(let key, let values): "\(key) in (\(values.joined(separator: ",")))"
            case .notIn(let key, let values): "\(key) notin (\(values.joined(separator: ",")))"
            case .exists(let key): key
            case .absent(let key): "!\(key)"
            }
        }
    }

    /// The requirements, all of which must hold.
    public var requirements: [Requirement]

    /// A selector of `requirements`.
    public init(_ requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// Parses selector text; the error says which requirement is at fault and why.
    public init(parsing text: String) throws(FleetError) {
        var requirements: [Requirement] = []
        for part in try Self.split(text) {
            requirements.append(try Self.requirement(part))
        }
        self.requirements = requirements
    }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// The selector in canonical syntax (parses back to the same selector).
    public var description: String {
        requirements.map(\.text).joined(separator: ",")
    }

    // MARK: - Parsing

    /// Splits on commas outside parentheses; refuses unbalanced parentheses and empty parts.
    private static func split(_ text: String) throws(FleetError) -> [String] {
        guard !text.trimmingBlanks().isEmpty else { return [] }
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(":
                depth += 1
                guard depth == 1 else { throw fail(text, "has nested parentheses") }
            case ")":
                depth -= 1
                guard depth == 0 else { throw fail(text, "has a ')' without its '('") }
            case "," where depth == 0:
                parts.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        guard depth == 0 else { throw fail(text, "has a '(' without its ')'") }
        parts.append(current)
        let trimmed = parts.map { $0.trimmingBlanks() }
        if trimmed.contains(where: \.isEmpty) { throw fail(text, "has an empty requirement (two commas, or a trailing comma)") }
        return trimmed
    }

    private static func requirement(_ part: String) throws(FleetError) -> Requirement {
        if let range = part.range(of: "!=") {
            let (key, value) = (
                String(part[..<range.lowerBound]).trimmingBlanks(), String(part[range.upperBound...]).trimmingBlanks()
            )
            try checked(key, part)
            try checkedValue(value, key, part)
            return .notEquals(key, value)
        }
        if let range = part.range(of: "==") ?? part.range(of: "=") {
            let (key, value) = (
                String(part[..<range.lowerBound]).trimmingBlanks(), String(part[range.upperBound...]).trimmingBlanks()
            )
            try checked(key, part)
            try checkedValue(value, key, part)
            return .equals(key, value)
        }
        if let open = part.firstIndex(of: "(") {
            guard part.hasSuffix(")") else { throw fail(part, "has text after its ')'") }
            let head = part[..<open].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard head.count == 2, head[1] == "in" || head[1] == "notin" else {
                throw fail(part, "must read 'key in (a,b)' or 'key notin (a,b)'")
            }
            let key = head[0]
            try checked(key, part)
            let inner = part[part.index(after: open)..<part.index(before: part.endIndex)]
            let values = inner.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingBlanks() }
            for value in values { try checkedValue(value, key, part) }
            return head[1] == "in" ? .in(key, values) : .notIn(key, values)
        }
        if part.hasPrefix("!") {
            let key = String(part.dropFirst()).trimmingBlanks()
            try checked(key, part)
            return .absent(key)
        }
        try checked(part, part)
        return .exists(part)
    }

    private static func checked(_ key: String, _ part: String) throws(FleetError) {
        guard Labels.isValid(key, allowSlash: true) else {
            throw fail(part, "has the key '\(key)'; keys are 1-\(Labels.maxLength) characters of A-Z a-z 0-9 . _ - /")
        }
    }

    private static func checkedValue(_ value: String, _ key: String, _ part: String) throws(FleetError) {
        guard Labels.isValid(value, allowSlash: false) else {
            throw fail(
                part, "has the value '\(value)' for '\(key)'; values are 1-\(Labels.maxLength) characters of A-Z a-z 0-9 . _ -")
        }
    }

    private static func fail(_ part: String, _ why: String) -> FleetError {
        FleetError(.invalidArgument, "the selector requirement '\(part)' \(why)")
    }
}
