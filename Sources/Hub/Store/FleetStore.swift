/// Storage of the fleet: devices and their credential hashes, named groups, and the last known
/// live status of each device.
///
/// Like the registry, every change takes a `ChangeContext` and writes its audit row in the same
/// transaction. Audit rows carry the `Device` record, never the password hash. Implementation:
/// `SQLiteHubStore`.
public protocol FleetStore: Sendable {
    /// Enrols a device with the `$7$` hash of its new password: inserts it, or enrols a
    /// decommissioned one again (new credentials, new labels). `conflict` when it is enrolled.
    func enrollDevice(_ device: Device, passwordHash: String, change: ChangeContext) async throws(HubStoreError)
    /// Revokes a device's credentials; returns the record after. `notFound` for an unknown id,
    /// `conflict` when it is already decommissioned.
    func decommissionDevice(id: String, change: ChangeContext) async throws(HubStoreError) -> Device
    /// Replaces a device's labels; returns the record after (`notFound` for an unknown id).
    func setLabels(device id: String, labels: [String: String], change: ChangeContext) async throws(HubStoreError) -> Device
    /// One device.
    func device(id: String) async throws(HubStoreError) -> Device?
    /// Devices in id order, decommissioned ones included.
    func devices(page: PageRequest) async throws(HubStoreError) -> Page<Device>
    /// Every enrolled device with its password hash: what the broker's password file holds.
    func credentials() async throws(HubStoreError) -> [(device: Device, credential: DeviceCredential)]

    /// Creates or replaces a group's selector.
    func setGroup(_ group: DeviceGroup, change: ChangeContext) async throws(HubStoreError)
    /// Removes a group; returns whether it existed.
    func removeGroup(name: String, change: ChangeContext) async throws(HubStoreError) -> Bool
    /// Every group, by name.
    func groups() async throws(HubStoreError) -> [DeviceGroup]

    /// Stores the last known live status of several devices in one transaction (not audited: it
    /// is observation, not change). `FleetMonitor` calls it once per flush.
    func saveLiveStatuses(_ statuses: [DeviceLiveStatus], time: Int64) async throws(HubStoreError)
    /// Every stored live status.
    func liveStatuses() async throws(HubStoreError) -> [DeviceLiveStatus]
}

extension FleetStore {
    /// Stores the last known live status of one device.
    public func saveLiveStatus(_ status: DeviceLiveStatus, time: Int64) async throws(HubStoreError) {
        try await saveLiveStatuses([status], time: time)
    }
}
