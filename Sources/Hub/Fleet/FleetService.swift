import Core
import Foundation
import TransportMQTT

/// Enrolment, decommissioning, labels and groups of the fleet.
///
/// Writes need the operator role, reads the viewer role. Every change is stored (with its audit
/// row) first, then the broker's files are rendered again and the broker reloaded
/// (`BrokerAccounts.sync`). When that last step fails the change stands and the error says so;
/// `syncBroker` retries it. A failed enrolment's password is lost: decommission and enrol again.
public struct FleetService: Sendable {
    /// Where devices and groups are kept.
    public let store: any FleetStore
    /// The broker's files.
    public let accounts: BrokerAccounts
    /// The hub's public keys, handed to every device in its bundle.
    public let trustRing: [TrustedKey]
    /// Broker address and device paths for bundles.
    public let bundleSettings: BundleSettings
    /// Milliseconds since the Unix epoch.
    public let now: @Sendable () -> Int64

    /// A fleet service.
    public init(
        store: any FleetStore, accounts: BrokerAccounts, trustRing: [TrustedKey], bundleSettings: BundleSettings,
        now: @escaping @Sendable () -> Int64
    ) {
        self.store = store
        self.accounts = accounts
        self.trustRing = trustRing
        self.bundleSettings = bundleSettings
        self.now = now
    }

    // MARK: - Devices

    /// Enrols `id` with `labels` and firmware `profile`: new broker credentials, the broker
    /// reloaded, and the bundle to install on the device (its password is shown only there).
    /// A decommissioned device may be enrolled again; an enrolled one is a `conflict`.
    public func enroll(
        device id: String, labels: [String: String] = [:], profile: String, settings: BundleSettings? = nil,
        by principal: Principal
    ) async throws -> EnrolmentBundle {
        try principal.require(.operator)
        try Self.checkDeviceID(id)
        guard accounts.configuration.hubAccounts[id] == nil else {
            throw FleetError(.invalidArgument, "'\(id)' is the hub's broker account; choose another device id")
        }
        try Labels.validate(labels)
        guard IdentifierRules.isValid(profile) else {
            throw FleetError(
                .invalidArgument, "the firmware profile '\(profile)' must follow the identifier rules (A-Z a-z 0-9 . _ - :)")
        }
        let time = now()
        // The device's own key for federated updates; the hub keeps only the public half.
        let key = SigningKey.generate(name: id)
        let device = Device(
            id: id, labels: labels, profile: profile, state: .enrolled, enrolledAt: time, enrolledBy: principal.subject,
            signingKey: PackageDigest.hex(key.privateKey.publicKey.rawRepresentation))
        let password = Self.generatePassword()
        try await store.enrollDevice(
            device, passwordHash: MosquittoPasswordFile.hash(password),
            change: ChangeContext(subject: principal.subject, time: time))
        let groups = try BrokerAccounts.membership(devices: [device], groups: try await store.groups())[id] ?? []
        try await syncAfterChange("device '\(id)' is enrolled")
        return EnrolmentBundle(
            device: device, password: password, groups: groups, trustRing: trustRing, settings: settings ?? bundleSettings,
            deviceKey: try key.fileBytes())
    }

    /// Revokes a device's credentials and reloads the broker: its next connection is refused
    /// (Mosquitto does not cut an open connection on reload; restart the broker for that).
    @discardableResult
    public func decommission(device id: String, by principal: Principal) async throws -> Device {
        try principal.require(.operator)
        let device = try await store.decommissionDevice(id: id, change: ChangeContext(subject: principal.subject, time: now()))
        try await syncAfterChange("device '\(id)' is decommissioned")
        return device
    }

    /// Replaces a device's labels (group membership and the broker's ACL follow).
    @discardableResult
    public func setLabels(device id: String, labels: [String: String], by principal: Principal) async throws -> Device {
        try principal.require(.operator)
        try Labels.validate(labels)
        let device = try await store.setLabels(
            device: id, labels: labels, change: ChangeContext(subject: principal.subject, time: now()))
        try await syncAfterChange("the labels of device '\(id)' are set")
        return device
    }

    /// One device.
    public func device(id: String, by principal: Principal) async throws -> Device? {
        try principal.require(.viewer)
        return try await store.device(id: id)
    }

    /// Devices in id order, decommissioned ones included.
    public func devices(page: PageRequest = PageRequest(), by principal: Principal) async throws -> Page<Device> {
        try principal.require(.viewer)
        return try await store.devices(page: page)
    }

    /// Every enrolled device whose labels match `selector`, in id order.
    public func devices(matching selector: LabelSelector, by principal: Principal) async throws -> [Device] {
        try principal.require(.viewer)
        var out: [Device] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await store.devices(page: page)
            out += result.items.filter { $0.state == .enrolled && selector.matches($0.labels) }
            guard let next = result.next else { return out }
            page.cursor = next
        }
    }

    // MARK: - Groups

    /// Creates or replaces group `name` (a group id) with `selector` (parsed first).
    @discardableResult
    public func setGroup(name: String, selector: String, by principal: Principal) async throws -> DeviceGroup {
        try principal.require(.operator)
        do {
            try IdentifierRules.check(name, kind: "group name")
        } catch {
            throw FleetError(.invalidArgument, error.message)
        }
        let parsed = try LabelSelector(parsing: selector)
        let time = now()
        let group = DeviceGroup(name: name, selector: parsed.description, updatedAt: time, updatedBy: principal.subject)
        try await store.setGroup(group, change: ChangeContext(subject: principal.subject, time: time))
        try await syncAfterChange("group '\(name)' is set")
        return group
    }

    /// Removes group `name`; `notFound` when there is none.
    public func removeGroup(name: String, by principal: Principal) async throws {
        try principal.require(.operator)
        guard try await store.removeGroup(name: name, change: ChangeContext(subject: principal.subject, time: now())) else {
            throw FleetError(.notFound, "there is no group '\(name)'")
        }
        try await syncAfterChange("group '\(name)' is removed")
    }

    /// Every group, by name.
    public func groups(by principal: Principal) async throws -> [DeviceGroup] {
        try principal.require(.viewer)
        return try await store.groups()
    }

    /// The enrolled devices in group `name`.
    public func members(ofGroup name: String, by principal: Principal) async throws -> [Device] {
        try principal.require(.viewer)
        guard let group = try await store.groups().first(where: { $0.name == name }) else {
            throw FleetError(.notFound, "there is no group '\(name)'")
        }
        return try await devices(matching: try LabelSelector(parsing: group.selector), by: principal)
    }

    /// Renders the broker's files again and reloads it (after a failed reload, or at start-up).
    public func syncBroker(by principal: Principal) async throws {
        try principal.require(.operator)
        try await accounts.sync()
    }

    // MARK: - Helpers

    private func syncAfterChange(_ what: String) async throws {
        do {
            try await accounts.sync()
        } catch let error as FleetError {
            throw FleetError(
                error.code, "\(what), but the broker was not updated: \(error.message); retry with a broker sync",
                underlying: error.underlying)
        }
    }

    static func checkDeviceID(_ id: String) throws(FleetError) {
        do {
            try IdentifierRules.check(id, kind: "device id")
        } catch {
            throw FleetError(.invalidArgument, error.message)
        }
    }

    /// 32 random bytes, base64url without padding (43 characters): safe in files and shells.
    static func generatePassword() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
