/// A semantic version (semver.org 2.0.0): `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`.
///
/// Ordering follows SemVer precedence (pre-releases sort before their release, numeric
/// identifiers numerically, alphanumeric ones in ASCII order, numeric before alphanumeric);
/// build metadata does not affect precedence and only breaks ties so that the order is total.
public struct SemanticVersion: Sendable, Hashable, Comparable, LosslessStringConvertible, Codable {
    /// Incompatible changes.
    public var major: Int
    /// Backward-compatible additions.
    public var minor: Int
    /// Backward-compatible fixes.
    public var patch: Int
    /// Dot-separated pre-release identifiers (empty for a release).
    public var prerelease: [String]
    /// Dot-separated build metadata identifiers.
    public var build: [String]

    /// A version from its parts; the identifiers must be valid (use `init?(_:)` to parse text).
    public init(_ major: Int, _ minor: Int, _ patch: Int, prerelease: [String] = [], build: [String] = []) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
    }

    /// Parses `text`; nil unless it is a valid semantic version.
    public init?(_ text: String) {
        guard text.utf8.count <= 256 else { return nil }
        var rest = Substring(text)
        var build: [String] = []
        if let plus = rest.firstIndex(of: "+") {
            let ids = rest[rest.index(after: plus)...].split(separator: ".", omittingEmptySubsequences: false)
            guard ids.allSatisfy({ Self.isIdentifier($0, numericRule: false) }) else { return nil }
            build = ids.map(String.init)
            rest = rest[..<plus]
        }
        var prerelease: [String] = []
        if let dash = rest.firstIndex(of: "-") {
            let ids = rest[rest.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            guard ids.allSatisfy({ Self.isIdentifier($0, numericRule: true) }) else { return nil }
            prerelease = ids.map(String.init)
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3, let major = Self.number(core[0]), let minor = Self.number(core[1]),
            let patch = Self.number(core[2])
        else { return nil }
        self.init(major, minor, patch, prerelease: prerelease, build: build)
    }

    /// The canonical text form.
    public var description: String {
        var text = "\(major).\(minor).\(patch)"
        if !prerelease.isEmpty { text += "-" + prerelease.joined(separator: ".") }
        if !build.isEmpty { text += "+" + build.joined(separator: ".") }
        return text
    }

    /// True when `self` and `other` have the same SemVer precedence (build metadata ignored).
    public func hasSamePrecedence(as other: SemanticVersion) -> Bool {
        Self.comparePrecedence(self, other) == 0
    }

    /// SemVer precedence; build metadata only breaks ties.
    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        let order = comparePrecedence(a, b)
        if order != 0 { return order < 0 }
        return a.build.joined(separator: ".") < b.build.joined(separator: ".")
    }

    /// Decodes the text form, refusing an invalid version.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let version = SemanticVersion(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not a semantic version"))
        }
        self = version
    }

    /// Encodes the text form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: - Parsing and precedence

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 18, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if text.count > 1 && text.first == "0" { return nil }
        return Int(text)
    }

    private static func isIdentifier(_ id: Substring, numericRule: Bool) -> Bool {
        guard !id.isEmpty else { return false }
        let allowed = id.utf8.allSatisfy {
            ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45
        }
        guard allowed else { return false }
        let numeric = id.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
        return !(numericRule && numeric && id.count > 1 && id.first == "0")
    }

    private static func isNumeric(_ id: String) -> Bool {
        id.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    private static func comparePrecedence(_ a: SemanticVersion, _ b: SemanticVersion) -> Int {
        for (x, y) in [(a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)] where x != y { return x < y ? -1 : 1 }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): break
        }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (isNumeric(x), isNumeric(y)) {
            case (true, true):
                // Numerically, without overflow: no leading zeros, so the shorter is smaller.
                if x.utf8.count != y.utf8.count { return x.utf8.count < y.utf8.count ? -1 : 1 }
                return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8)) ? -1 : 1
            case (true, false): return -1
            case (false, true): return 1
            case (false, false): return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8)) ? -1 : 1
            }
        }
        return a.prerelease.count == b.prerelease.count ? 0 : (a.prerelease.count < b.prerelease.count ? -1 : 1)
    }
}
