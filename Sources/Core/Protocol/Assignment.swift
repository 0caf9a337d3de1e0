/// Which model version a device should run: retained and signed on `devices/{id}/assignment`.
///
/// It travels as `SignedMessage<Assignment>`, signed by a hub key. A device acts on one only
/// after, in order: the signature verifies with a trusted, unrevoked key (`keyId`), `check(for:now:)`
/// passes (its own device id, not expired, not issued in the future), and the id and issue time
/// are newer than the last assignment it applied (a replayed old assignment is ignored). A version
/// older than the committed one is applied only when `allowDowngrade` is set (a signed rollback).
public struct Assignment: SignedControlMessage {
    /// "assignment".
    public static let schema = "assignment"
    /// How far in the future an issue time may lie before it is refused (clock skew), in ms.
    public static let maxClockSkewMs: Int64 = 5 * 60 * 1000

    /// The message id.
    public var id: String
    /// When the hub issued it (issued-at), ms since the epoch.
    public var time: Int64
    /// The device it is for; a device refuses an assignment addressed to another.
    public var device: DeviceID
    /// The model to run.
    public var modelName: ModelName
    /// The model version to run (semantic version).
    public var modelVersion: String
    /// The package: SHA-256 of its signed manifest bytes (`PackageHead.id`), lowercase hex.
    public var packageId: String
    /// The package file's size in bytes (to check storage before downloading).
    public var packageSize: Int64
    /// Where the package head (manifest and signature) is published: a topic or an `https://`
    /// URL. Absent: ask for it with a `FetchRequest` (`head: true`).
    public var manifestLocation: String?
    /// The rollout this assignment belongs to, if any.
    public var rolloutId: String?
    /// After this time (ms since the epoch) the assignment is void.
    public var expiresAt: Int64
    /// Whether the device may move to an older version than its committed one (a rollback order).
    public var allowDowngrade: Bool
    /// The id of the hub key that signs it.
    public var keyId: String

    /// An assignment.
    public init(
        id: String, time: Int64, device: DeviceID, modelName: ModelName, modelVersion: String, packageId: String,
        packageSize: Int64, manifestLocation: String? = nil, rolloutId: String? = nil, expiresAt: Int64,
        allowDowngrade: Bool = false, keyId: String
    ) {
        self.id = id
        self.time = time
        self.device = device
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.packageId = packageId
        self.packageSize = packageSize
        self.manifestLocation = manifestLocation
        self.rolloutId = rolloutId
        self.expiresAt = expiresAt
        self.allowDowngrade = allowDowngrade
        self.keyId = keyId
    }

    /// The issue time (the same as `time`).
    public var issuedAt: Int64 { time }

    /// Checks the version text, package id and size, expiry after issue, and the key id.
    public func validate() throws(ProtocolError) {
        let s = Self.schema
        try FieldCheck.text(modelVersion, s, "modelVersion", maxBytes: 64)
        try FieldCheck.digest(packageId, s, "packageId")
        try FieldCheck.range(packageSize, 1...Int64.max, s, "packageSize")
        try FieldCheck.text(manifestLocation, s, "manifestLocation")
        try FieldCheck.identifier(rolloutId, s, "rolloutId")
        guard expiresAt > time else { throw FieldCheck.fail(s, "expiresAt", "is not after the issue time") }
        try FieldCheck.identifier(keyId, s, "keyId")
    }

    /// Checks a verified assignment applies to `device` at `now` (ms since the epoch):
    /// `wrongDevice` if it is addressed to another device, `expired` if `now` is past `expiresAt`
    /// or the issue time lies more than `maxClockSkewMs` in the future.
    public func check(for device: DeviceID, now: Int64) throws(ProtocolError) {
        guard self.device == device else {
            throw ProtocolError(.wrongDevice, "assignment \(id) is for device \(self.device), not \(device)")
        }
        guard now < expiresAt else {
            throw ProtocolError(.expired, "assignment \(id) expired at \(expiresAt) (now \(now)); the hub must issue a new one")
        }
        guard time <= now + Self.maxClockSkewMs else {
            throw ProtocolError(.expired, "assignment \(id) is issued at \(time), in the future (now \(now)); check the clocks")
        }
    }
}

extension Assignment {
    /// A new assignment with a random id, issued at `time` (ms since the epoch) and valid for
    /// `validity` ms, checked and signed by `key`: its wire bytes (`SignedMessage`).
    public static func signed(
        device: DeviceID, model: ModelName, version: String, packageId: String, packageSize: Int64,
        rolloutId: String? = nil, allowDowngrade: Bool = false, time: Int64, validity: Int64, key: SigningKey
    ) throws(ProtocolError) -> [UInt8] {
        let assignment = Assignment(
            id: "as-" + String(UInt64.random(in: 0...UInt64.max), radix: 16), time: time, device: device, modelName: model,
            modelVersion: version, packageId: packageId, packageSize: packageSize, rolloutId: rolloutId,
            expiresAt: time + validity, allowDowngrade: allowDowngrade, keyId: key.keyId)
        try assignment.validate()
        return try SignedMessage(signing: assignment, with: key.privateKey).encoded()
    }
}
