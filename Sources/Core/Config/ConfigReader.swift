/// Typed, validated access to layered values: every value set anywhere is checked against its
/// schema entry (even keys nobody reads yet), and every required key must have one.
public struct ConfigReader {
    public let values: ConfigValues
    public let schema: ConfigSchema

    public init(values: ConfigValues, schema: ConfigSchema) throws(ConfigurationError) {
        self.values = values
        self.schema = schema
        for entry in schema.entries {
            if values[entry.key] == nil, entry.defaultValue == nil {
                if entry.required {
                    throw ConfigurationError(
                        .missingKey, key: entry.key,
                        "\(entry.key) is required (\(entry.help)); set it in the file, as \(schema.environmentName(of: entry.key)) or with --set \(entry.key)=...")
                }
                continue
            }
            _ = try typed(entry)
        }
    }

    /// The value of `entry` as its kind's Swift value, nil when unset and without default.
    private func typed(_ entry: ConfigSchema.Entry) throws(ConfigurationError) -> Any? {
        let origin = values.origin(of: entry.key) ?? .defaultValue
        guard let raw = values[entry.key] ?? entry.defaultValue.map(ConfigValue.text) else { return nil }
        func fail(_ expected: String) -> ConfigurationError {
            ConfigurationError(.invalidValue, key: entry.key, "\(entry.key) from \(origin) must be \(expected), not \(Self.show(raw))")
        }
        switch entry.kind {
        case .text, .path:
            guard case .text(let text) = raw, !text.isEmpty, !text.contains("\0") else {
                throw fail(entry.kind == .path ? "a path" : "non-empty text")
            }
            return text
        case .identifier:
            guard case .text(let text) = raw else { throw fail("an identifier") }
            do {
                try IdentifierRules.check(text, kind: entry.key)
            } catch {
                throw ConfigurationError(.invalidValue, key: entry.key, "\(entry.key) from \(origin): \(error.message)")
            }
            return text
        case .identifiers:
            let items: [String]
            switch raw {
            case .list(let list): items = list
            case .text(let text): items = text.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
            default: throw fail("a list of identifiers")
            }
            for item in items where !IdentifierRules.isValid(item) { throw fail("a list of identifiers ('\(item)' is not one)") }
            guard Set(items).count == items.count else { throw fail("a list without repeats") }
            return items
        case .integer(let range):
            let number: Int?
            switch raw {
            case .number(let value): number = value.rounded() == value && abs(value) < 1e15 ? Int(value) : nil
            case .text(let text): number = Int(text.trimmingWhitespace())
            default: number = nil
            }
            guard let number, range.contains(number) else { throw fail("an integer in \(range.lowerBound)...\(range.upperBound)") }
            return number
        case .number(let range):
            let number: Double?
            switch raw {
            case .number(let value): number = value
            case .text(let text): number = Double(text.trimmingWhitespace())
            default: number = nil
            }
            guard let number, number.isFinite, range.contains(number) else { throw fail("a number in \(range.lowerBound)...\(range.upperBound)") }
            return number
        case .boolean:
            switch raw {
            case .bool(let flag): return flag
            case .text(let text) where ["true", "1", "yes", "on"].contains(text.lowercased()): return true
            case .text(let text) where ["false", "0", "no", "off"].contains(text.lowercased()): return false
            default: throw fail("true or false")
            }
        case .choice(let words):
            guard case .text(let text) = raw, words.contains(text) else { throw fail("one of " + words.joined(separator: ", ")) }
            return text
        }
    }

    private static func show(_ value: ConfigValue) -> String {
        switch value {
        case .text(let text): "'\(text)'"
        case .number(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .bool(let flag): String(flag)
        case .list(let items): "[" + items.joined(separator: ", ") + "]"
        }
    }

    private func value<T>(_ key: String) -> T? {
        guard let entry = schema.entry(key) else { preconditionFailure("no schema entry for \(key)") }
        // Every value was typed in init, so this cannot fail.
        return (try? typed(entry)) as? T
    }

    public func text(_ key: String) -> String? { value(key) }
    public func integer(_ key: String) -> Int? { value(key) }
    public func number(_ key: String) -> Double? { value(key) }
    public func boolean(_ key: String) -> Bool? { value(key) }
    public func identifiers(_ key: String) -> [String]? { value(key) }
}

extension String {
    public func trimmingWhitespace() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
