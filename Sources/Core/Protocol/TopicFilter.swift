/// MQTT 5 topic names and filters: validation and matching (OASIS MQTT 5.0, section 4.7).
///
/// The in-memory broker routes with `matches`, so its behaviour and the real broker's are pinned
/// by one well-tested function.
public enum TopicFilter {
    /// The longest topic name or filter MQTT allows, in UTF-8 bytes.
    public static let maxLength = 65_535
    /// The prefix of a shared subscription: `$share/{group}/{filter}`.
    public static let sharePrefix = "$share/"

    /// A filter split into its share group (for `$share/{group}/...`) and the filter proper.
    public struct Parts: Hashable, Sendable {
        /// The share group, or nil for an ordinary subscription.
        public var shareGroup: String?
        /// The filter without the `$share/{group}/` prefix.
        public var filter: String

        /// The parts of a filter.
        public init(shareGroup: String?, filter: String) {
            self.shareGroup = shareGroup
            self.filter = filter
        }
    }

    // MARK: - Validation

    /// Checks a topic name a message is published to: not empty, at most 65,535 bytes, no NUL,
    /// no wildcard characters.
    public static func validateTopicName(_ topic: String) throws(ProtocolError) {
        try checkCommon(topic, what: "topic")
        if topic.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) {
            throw ProtocolError(.invalidTopic, "the topic '\(shown(topic))' contains a wildcard; publish to a concrete topic")
        }
    }

    /// Checks a subscription filter: `+` fills a whole level, `#` is the whole last level, and a
    /// shared subscription names a group and a non-empty filter.
    @discardableResult
    public static func validate(_ filter: String) throws(ProtocolError) -> Parts {
        try checkCommon(filter, what: "topic filter")
        let parts = split(filter)
        if let group = parts.shareGroup {
            guard !group.isEmpty, !group.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }) else {
                throw ProtocolError(
                    .invalidTopic, "the shared subscription '\(shown(filter))' needs a share name without wildcards")
            }
            guard !parts.filter.isEmpty else {
                throw ProtocolError(
                    .invalidTopic, "the shared subscription '\(shown(filter))' has no topic filter after the share name")
            }
        }
        let levels = parts.filter.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#") && (level != "#" || index != levels.count - 1) {
                throw ProtocolError(.invalidTopic, "in '\(shown(filter))', '#' must be the whole last level")
            }
            if level.contains("+") && level != "+" {
                throw ProtocolError(.invalidTopic, "in '\(shown(filter))', '+' must fill a whole level")
            }
        }
        return parts
    }

    /// Splits `$share/{group}/{filter}` into its parts; other filters come back with no group.
    public static func split(_ filter: String) -> Parts {
        guard filter.hasPrefix(sharePrefix) else { return Parts(shareGroup: nil, filter: filter) }
        let rest = filter.dropFirst(sharePrefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return Parts(shareGroup: String(rest), filter: "") }
        return Parts(shareGroup: String(rest[..<slash]), filter: String(rest[rest.index(after: slash)...]))
    }

    // MARK: - Matching

    /// Whether `topic` matches `filter`.
    ///
    /// `+` matches exactly one level (possibly empty), `#` matches the rest including the parent
    /// level (`a/#` matches `a`), and a filter starting with a wildcard never matches a topic
    /// starting with `$`. A `$share/{group}/` prefix is ignored (sharing decides who receives a
    /// message, not whether it matches). An invalid filter matches nothing.
    public static func matches(_ filter: String, topic: String) -> Bool {
        guard let parts = try? validate(filter), !topic.isEmpty else { return false }
        return matchesValid(parts.filter, topic: topic)
    }

    /// `matches` for a filter already validated and stripped of any share prefix.
    static func matchesValid(_ filter: String, topic: String) -> Bool {
        let slash = UInt8(ascii: "/")
        let f = filter.utf8.split(separator: slash, omittingEmptySubsequences: false)
        let t = topic.utf8.split(separator: slash, omittingEmptySubsequences: false)
        if topic.utf8.first == UInt8(ascii: "$"), let first = f.first, isWildcard(first) { return false }
        for (index, level) in f.enumerated() {
            if level.elementsEqual("#".utf8) { return true }
            guard index < t.count else { return false }
            if !level.elementsEqual("+".utf8) && !level.elementsEqual(t[index]) { return false }
        }
        return f.count == t.count
    }

    private static func isWildcard(_ level: Substring.UTF8View) -> Bool {
        level.elementsEqual("+".utf8) || level.elementsEqual("#".utf8)
    }

    // MARK: - Helpers

    private static func checkCommon(_ value: String, what: String) throws(ProtocolError) {
        let count = value.utf8.count
        guard count > 0 else { throw ProtocolError(.invalidTopic, "the \(what) is empty") }
        guard count <= maxLength else {
            throw ProtocolError(.invalidTopic, "the \(what) is \(count) bytes long; MQTT allows \(maxLength)")
        }
        guard !value.utf8.contains(0) else {
            throw ProtocolError(.invalidTopic, "the \(what) '\(shown(value))' contains a NUL character")
        }
    }

    private static func shown(_ value: String) -> String {
        let printable = IdentifierRules.printable(String(value.prefix(200)))
        return value.count > 200 ? printable + "..." : printable
    }
}
