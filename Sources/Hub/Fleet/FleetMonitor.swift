import Core

/// Live status of the fleet, from what devices publish: their retained status (online, with the
/// agent and model versions), their last will (offline) and their telemetry (health).
///
/// Feed it a transport (`start()` subscribes, `run()` consumes the transport's messages) or hand
/// it messages from a dispatcher that owns the stream (`handle(_:)`). Messages from devices
/// that are not enrolled are counted and dropped; malformed ones are counted and dropped; nothing
/// a device sends can make it throw.
///
/// State survives a hub restart in two ways: each change is saved to the store (`restore()`
/// loads it), and the broker re-delivers every device's retained status when the monitor
/// subscribes, so presence is current again at once; telemetry is not retained, so the last
/// window until the next one comes from the store.
public actor FleetMonitor {
    /// Counters of what was received.
    public struct Counters: Sendable, Equatable {
        /// Status and telemetry messages applied.
        public var applied = 0
        /// Messages from device ids that are not enrolled.
        public var unknownDevice = 0
        /// Messages that did not decode (bad JSON, schema, topic).
        public var malformed = 0
        /// Status changes that could not be saved to the store.
        public var saveFailures = 0
    }

    /// What happened to one message.
    public enum Outcome: Sendable, Equatable {
        /// It updated the device's status.
        case applied
        /// Its device is not enrolled.
        case unknownDevice
        /// It did not decode.
        case malformed
        /// Not a status or telemetry topic.
        case ignored
    }

    /// The subscriptions: every device's status and telemetry.
    public static let filters = [
        "\(Topic.root)/devices/+/status",
        "\(Topic.root)/devices/+/telemetry",
    ]

    private let transport: (any MessageTransport)?
    private let store: any FleetStore
    private let now: @Sendable () -> Int64
    private var statuses: [String: DeviceLiveStatus] = [:]
    private var enrolled: Set<String> = []
    /// Counters so far.
    public private(set) var counters = Counters()

    /// A monitor of the devices in `store`, on `transport` (nil when messages are handed in).
    public init(transport: (any MessageTransport)?, store: any FleetStore, now: @escaping @Sendable () -> Int64) {
        self.transport = transport
        self.store = store
        self.now = now
    }

    /// Loads the saved statuses of enrolled devices.
    public func restore() async throws {
        for status in try await store.liveStatuses() where statuses[status.device] == nil {
            statuses[status.device] = status
        }
    }

    /// Subscribes to every device's status and telemetry.
    public func start() async throws {
        guard let transport else { return }
        for filter in Self.filters { try await transport.subscribe(filter, qos: .atLeastOnce) }
    }

    /// Handles the transport's messages until its stream ends.
    public func run() async {
        guard let transport else { return }
        for await message in transport.messages { await handle(message) }
    }

    /// The status of `device`, if anything is known.
    public func status(of device: String) -> DeviceLiveStatus? {
        statuses[device]
    }

    /// Every known status, by device id.
    public func allStatuses() -> [DeviceLiveStatus] {
        statuses.keys.sorted().map { statuses[$0]! }
    }

    /// Forgets a device (after decommissioning it).
    public func forget(_ device: String) {
        statuses[device] = nil
        enrolled.remove(device)
    }

    /// Applies one message.
    @discardableResult
    public func handle(_ message: Message) async -> Outcome {
        let topic: Topic
        do {
            topic = try Topic(parsing: message.topic)
        } catch {
            counters.malformed += 1
            return .malformed
        }
        switch topic {
        case .status(let device):
            guard await isEnrolled(device.rawValue) else { return unknown() }
            // An empty retained payload clears the topic: nothing to apply.
            guard !message.payload.isEmpty else { return .ignored }
            guard let status = try? MessageCodec.decode(DeviceStatus.self, from: message.payload) else { return malformed() }
            var live = statuses[device.rawValue] ?? DeviceLiveStatus(device: device.rawValue)
            live.presence = status.state == .online ? .online : .offline
            live.agentVersion = status.agentVersion
            live.firmwareProfile = status.firmwareProfile
            if status.state == .online {
                live.modelName = status.modelName?.rawValue
                live.modelVersion = status.modelVersion
                live.offlineReason = nil
            } else {
                live.offlineReason = status.reason
            }
            live.lastSeen = seen(message, deviceTime: status.time, previous: live.lastSeen, online: status.state == .online)
            await apply(live)
        case .telemetry(let device):
            guard await isEnrolled(device.rawValue) else { return unknown() }
            guard let telemetry = try? MessageCodec.decode(Telemetry.self, from: message.payload) else { return malformed() }
            var live = statuses[device.rawValue] ?? DeviceLiveStatus(device: device.rawValue)
            live.telemetry = .init(telemetry)
            if let model = telemetry.modelName {
                live.modelName = model.rawValue
                live.modelVersion = telemetry.modelVersion
            }
            // A device that sends telemetry is connected, whatever the last status said.
            if live.presence != .online && !message.retain { live.presence = .online }
            live.lastSeen = seen(message, deviceTime: telemetry.time, previous: live.lastSeen, online: true)
            await apply(live)
        default:
            return .ignored
        }
        return .applied
    }

    // MARK: - Helpers

    /// A live message: now. A retained one (replayed at subscribe time): the device's own time,
    /// never moving last-seen backwards. A last will says nothing about when the device was seen.
    private func seen(_ message: Message, deviceTime: Int64, previous: Int64?, online: Bool) -> Int64? {
        if !message.retain { return online ? now() : (previous ?? now()) }
        guard online else { return previous }
        return max(previous ?? deviceTime, deviceTime)
    }

    private func apply(_ live: DeviceLiveStatus) async {
        statuses[live.device] = live
        counters.applied += 1
        do {
            try await store.saveLiveStatus(live, time: now())
        } catch {
            counters.saveFailures += 1
        }
    }

    private func isEnrolled(_ device: String) async -> Bool {
        if enrolled.contains(device) { return true }
        guard let record = try? await store.device(id: device), record.state == .enrolled else { return false }
        enrolled.insert(device)
        return true
    }

    private func unknown() -> Outcome {
        counters.unknownDevice += 1
        return .unknownDevice
    }

    private func malformed() -> Outcome {
        counters.malformed += 1
        return .malformed
    }
}
