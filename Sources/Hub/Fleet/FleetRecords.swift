import Core

/// Whether a device may connect.
public enum DeviceState: String, Sendable, Codable, CaseIterable {
    /// Has broker credentials.
    case enrolled
    /// Its credentials were revoked; the id stays in the registry (and may be enrolled again).
    case decommissioned
}

/// A device in the fleet registry, as stored and audited: never its password or hash.
public struct Device: Sendable, Equatable, Codable {
    /// The device id: its MQTT user name, client id and topic level (`IdentifierRules`).
    public var id: String
    /// Labels (`site=north`), what group selectors match.
    public var labels: [String: String]
    /// The firmware profile the device runs with (`raspberry-pi-4`).
    public var profile: String
    /// Enrolled or decommissioned.
    public var state: DeviceState
    /// When it was (last) enrolled, ms since the epoch.
    public var enrolledAt: Int64
    /// Who enrolled it.
    public var enrolledBy: String
    /// When it was decommissioned, if it is.
    public var decommissionedAt: Int64?
    /// Who decommissioned it, if anyone did.
    public var decommissionedBy: String?
    /// The raw Ed25519 public key (hex) the device signs federated updates with; issued at
    /// enrolment (nil for devices enrolled before the hub issued keys).
    public var signingKey: String?

    /// A device record.
    public init(
        id: String, labels: [String: String], profile: String, state: DeviceState, enrolledAt: Int64, enrolledBy: String,
        decommissionedAt: Int64? = nil, decommissionedBy: String? = nil, signingKey: String? = nil
    ) {
        self.id = id
        self.labels = labels
        self.profile = profile
        self.state = state
        self.enrolledAt = enrolledAt
        self.enrolledBy = enrolledBy
        self.decommissionedAt = decommissionedAt
        self.decommissionedBy = decommissionedBy
        self.signingKey = signingKey
    }
}

/// A named group: the devices whose labels match its selector.
public struct DeviceGroup: Sendable, Equatable, Codable {
    /// The group id (`IdentifierRules`): its broker topics are `starling/v1/groups/<name>/...`.
    public var name: String
    /// The selector text, as given (parsed again on load).
    public var selector: String
    /// When it was created or last changed, ms since the epoch.
    public var updatedAt: Int64
    /// Who set it.
    public var updatedBy: String

    /// A group record.
    public init(name: String, selector: String, updatedAt: Int64, updatedBy: String) {
        self.name = name
        self.selector = selector
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// A device's broker account as the password file needs it.
public struct DeviceCredential: Sendable, Equatable {
    /// The device id (= MQTT user name).
    public var device: String
    /// The `$7$` PBKDF2-SHA512 hash of its password, exactly as the password file holds it.
    public var passwordHash: String

    /// A credential.
    public init(device: String, passwordHash: String) {
        self.device = device
        self.passwordHash = passwordHash
    }
}

/// Device labels: parsing `k=v,k2=v2` and the rules for keys and values.
///
/// Keys and values are 1 to 63 characters of `A-Z a-z 0-9 . _ -`, keys may also contain `/`
/// (`team/owner=ml`). That keeps them safe in selectors, URLs and logs.
public enum Labels {
    /// The longest key or value.
    public static let maxLength = 63
    /// The most labels a device may carry.
    public static let maxCount = 64

    /// Parses `k=v,k2=v2` (empty text: no labels); duplicate keys are an error.
    public static func parse(_ text: String) throws(FleetError) -> [String: String] {
        var labels: [String: String] = [:]
        let trimmed = text.trimmingBlanks()
        guard !trimmed.isEmpty else { return [:] }
        for pair in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = String(pair).trimmingBlanks()
            guard let equals = pair.firstIndex(of: "=") else {
                throw FleetError(.invalidArgument, "the label '\(pair)' has no '='; write key=value")
            }
            let key = String(pair[..<equals]).trimmingBlanks()
            let value = String(pair[pair.index(after: equals)...]).trimmingBlanks()
            guard labels[key] == nil else { throw FleetError(.invalidArgument, "the label key '\(key)' is given twice") }
            labels[key] = value
        }
        try validate(labels)
        return labels
    }

    /// Checks every key and value and the count.
    public static func validate(_ labels: [String: String]) throws(FleetError) {
        guard labels.count <= maxCount else {
            throw FleetError(.invalidArgument, "a device has at most \(maxCount) labels, not \(labels.count)")
        }
        for key in labels.keys.sorted() {
            try checkKey(key)
            try checkValue(labels[key]!, key: key)
        }
    }

    /// Checks a label key.
    public static func checkKey(_ key: String) throws(FleetError) {
        guard isValid(key, allowSlash: true) else {
            throw FleetError(
                .invalidArgument, "the label key '\(key)' must be 1-\(maxLength) characters of A-Z a-z 0-9 . _ - /")
        }
    }

    /// Checks a label value.
    public static func checkValue(_ value: String, key: String) throws(FleetError) {
        guard isValid(value, allowSlash: false) else {
            throw FleetError(
                .invalidArgument,
                "the value '\(value)' of label '\(key)' must be 1-\(maxLength) characters of A-Z a-z 0-9 . _ -")
        }
    }

    /// The labels as `k=v,k2=v2`, keys sorted.
    public static func render(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }

    static func isValid(_ text: String, allowSlash: Bool) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...maxLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            case UInt8(ascii: "/"): allowSlash
            default: false
            }
        }
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars = scalars.dropFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
