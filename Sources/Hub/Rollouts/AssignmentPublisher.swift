import Core

/// Publishes signed, retained assignments: which version each device should run. The broker
/// keeps the newest per device, so a device that was offline finds it when it reconnects; the
/// device verifies the signature with the hub's public key and ignores repeats.
public struct AssignmentPublisher: Sendable {
    /// The hub's signing key.
    public let key: SigningKey
    /// How long an assignment stays valid, ms.
    public let validity: Int64
    /// Milliseconds since the epoch.
    public let now: @Sendable () -> Int64

    /// A publisher signing with `key`; assignments expire after `validity` ms.
    public init(key: SigningKey, validity: Int64 = 7 * 24 * 3_600_000, now: @escaping @Sendable () -> Int64) {
        self.key = key
        self.validity = validity
        self.now = now
    }

    /// What to assign: a registered version and its package.
    public struct Target: Sendable, Equatable {
        /// The model.
        public var model: ModelName
        /// The version.
        public var version: String
        /// The package (`PackageHead.id`).
        public var packageId: String
        /// The package's size in bytes.
        public var packageSize: Int64
        /// The rollout, if any.
        public var rolloutId: String?
        /// Whether devices may move down to it (a signed rollback order).
        public var allowDowngrade: Bool

        /// A target.
        public init(
            model: ModelName, version: String, packageId: String, packageSize: Int64, rolloutId: String? = nil,
            allowDowngrade: Bool = false
        ) {
            self.model = model
            self.version = version
            self.packageId = packageId
            self.packageSize = packageSize
            self.rolloutId = rolloutId
            self.allowDowngrade = allowDowngrade
        }
    }

    /// The signed assignment of `target` to `device`, as wire bytes.
    public func assignment(_ target: Target, to device: DeviceID) throws(ProtocolError) -> [UInt8] {
        try Assignment.signed(
            device: device, model: target.model, version: target.version, packageId: target.packageId,
            packageSize: target.packageSize, rolloutId: target.rolloutId, allowDowngrade: target.allowDowngrade, time: now(),
            validity: validity, key: key)
    }

    /// Publishes the assignment of `target` to each of `devices` (retained, QoS 1); returns the
    /// devices whose publish the broker acknowledged, in order, and the first failure, if any.
    public func publish(_ target: Target, to devices: [DeviceID], via transport: any MessageTransport) async
        -> (published: [DeviceID], failure: (any Error)?)
    {
        var published: [DeviceID] = []
        for device in devices {
            do {
                let payload = try assignment(target, to: device)
                try await transport.publish(
                    Message(topic: Topic.assignment(device).name, payload: payload, qos: .atLeastOnce, retain: true))
                published.append(device)
            } catch {
                return (published, error)
            }
        }
        return (published, nil)
    }
}
