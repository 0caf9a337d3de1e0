import Core

/// Live status of the fleet, from what devices publish: their retained status (online, with the
/// agent and model versions), their last will (offline) and their telemetry (health).
///
/// Feed it a transport (`start()` subscribes, `run()` consumes the transport's messages) or hand
/// it messages from a dispatcher that owns the stream (`handle(_:)`, plus `flushPeriodically()`
/// beside it). Messages from devices that are not enrolled are counted and dropped; malformed
/// ones are counted and dropped; nothing a device sends can make it throw.
///
/// Persistence is write-behind: a message changes the status in memory and marks the device
/// dirty; `flush()` writes every dirty status in one transaction. `run()` flushes every
/// `flushInterval` and once more when the stream ends. A crash loses at most the changes of the
/// last interval; presence comes back at once from the broker's retained status when the monitor
/// subscribes again, and `restore()` loads the rest (telemetry) from the store.
public actor FleetMonitor {
    /// Counters of what was received and written. `received` is the sum of the four outcomes.
    public struct Counters: Sendable, Equatable {
        /// Messages handed to the monitor.
        public var received = 0
        /// Status and telemetry messages applied.
        public var applied = 0
        /// Messages from device ids that are not enrolled.
        public var unknownDevice = 0
        /// Messages that did not decode (bad JSON, schema, topic).
        public var malformed = 0
        /// Messages on other topics, and empty retained payloads.
        public var ignored = 0
        /// Statuses written to the store by flushes.
        public var flushed = 0
        /// Flushes that wrote at least one status.
        public var flushes = 0
        /// Flushes that failed (their statuses stay dirty for the next one).
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
    private let metrics: FleetMetrics?
    /// Time between the flushes of `run()` and `flushPeriodically()`.
    public let flushInterval: Duration
    private var statuses: [String: DeviceLiveStatus] = [:]
    private var enrolled: Set<String> = []
    /// Devices whose status changed since it was last written.
    private var dirty: Set<String> = []
    /// The flush writing now; flushes run one at a time so an older snapshot never lands last.
    private var writing: Task<Bool, Never>?
    /// Counters so far.
    public private(set) var counters = Counters()

    /// A monitor of the devices in `store`, on `transport` (nil when messages are handed in),
    /// writing changed statuses every `flushInterval` and counting into `metrics` when given.
    public init(
        transport: (any MessageTransport)?, store: any FleetStore, now: @escaping @Sendable () -> Int64,
        flushInterval: Duration = .seconds(1), metrics: FleetMetrics? = nil
    ) {
        self.transport = transport
        self.store = store
        self.now = now
        self.flushInterval = flushInterval
        self.metrics = metrics
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

    /// Handles the transport's messages until its stream ends (the transport closed, or this
    /// task was cancelled), flushing every `flushInterval`, and flushes once more at the end.
    public func run() async {
        guard let transport else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.flushPeriodically() }
            for await message in transport.messages { await handle(message) }
            group.cancelAll()
        }
        await flush()
    }

    /// Flushes every `flushInterval` until the task is cancelled, then once more.
    public func flushPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: flushInterval)
            await flush()
        }
    }

    /// Writes every status changed since the last flush, in one transaction. On failure they
    /// stay dirty and the next flush tries again (`counters.saveFailures` counts it).
    public func flush() async {
        // Whoever resumes first clears the finished flush; comparing keeps a newer one in place.
        while let running = writing {
            _ = await running.value
            if writing == running { writing = nil }
        }
        guard !dirty.isEmpty else { return }
        let batch = dirty.compactMap { statuses[$0] }
        dirty.removeAll(keepingCapacity: true)
        let store = self.store
        let time = now()
        let task = Task { () -> Bool in
            do {
                try await store.saveLiveStatuses(batch, time: time)
                return true
            } catch {
                return false
            }
        }
        writing = task
        let saved = await task.value
        if writing == task { writing = nil }
        if saved {
            counters.flushed += batch.count
            counters.flushes += 1
            metrics?.flushed(batch.count)
        } else {
            counters.saveFailures += 1
            metrics?.flushFailed()
            for status in batch where statuses[status.device] != nil { dirty.insert(status.device) }
        }
        metrics?.pending(dirty.count)
    }

    /// The status of `device`, if anything is known.
    public func status(of device: String) -> DeviceLiveStatus? {
        statuses[device]
    }

    /// Every known status, by device id.
    public func allStatuses() -> [DeviceLiveStatus] {
        statuses.keys.sorted().map { statuses[$0]! }
    }

    /// Statuses changed in memory and not written yet.
    public var pendingCount: Int { dirty.count }

    /// Forgets a device (after decommissioning it).
    public func forget(_ device: String) {
        statuses[device] = nil
        enrolled.remove(device)
        dirty.remove(device)
    }

    /// Applies one message.
    @discardableResult
    public func handle(_ message: Message) async -> Outcome {
        let outcome = await apply(message)
        counters.received += 1
        switch outcome {
        case .applied: counters.applied += 1
        case .unknownDevice: counters.unknownDevice += 1
        case .malformed: counters.malformed += 1
        case .ignored: counters.ignored += 1
        }
        metrics?.received(outcome)
        return outcome
    }

    // MARK: - Applying

    private func apply(_ message: Message) async -> Outcome {
        guard let topic = try? Topic(parsing: message.topic) else { return .malformed }
        switch topic {
        case .status(let device):
            guard await isEnrolled(device.rawValue) else { return .unknownDevice }
            // An empty retained payload clears the topic: nothing to apply.
            guard !message.payload.isEmpty else { return .ignored }
            guard let status = try? MessageCodec.decode(DeviceStatus.self, from: message.payload) else { return .malformed }
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
            update(live)
        case .telemetry(let device):
            guard await isEnrolled(device.rawValue) else { return .unknownDevice }
            guard let telemetry = try? MessageCodec.decode(Telemetry.self, from: message.payload) else { return .malformed }
            var live = statuses[device.rawValue] ?? DeviceLiveStatus(device: device.rawValue)
            live.telemetry = .init(telemetry)
            if let model = telemetry.modelName {
                live.modelName = model.rawValue
                live.modelVersion = telemetry.modelVersion
            }
            // A device that sends telemetry is connected, whatever the last status said.
            if live.presence != .online && !message.retain { live.presence = .online }
            live.lastSeen = seen(message, deviceTime: telemetry.time, previous: live.lastSeen, online: true)
            update(live)
        default:
            return .ignored
        }
        return .applied
    }

    /// A live message: now. A retained one (replayed at subscribe time): the device's own time,
    /// never moving last-seen backwards. A last will says nothing about when the device was seen.
    private func seen(_ message: Message, deviceTime: Int64, previous: Int64?, online: Bool) -> Int64? {
        if !message.retain { return online ? now() : (previous ?? now()) }
        guard online else { return previous }
        return max(previous ?? deviceTime, deviceTime)
    }

    private func update(_ live: DeviceLiveStatus) {
        statuses[live.device] = live
        dirty.insert(live.device)
    }

    private func isEnrolled(_ device: String) async -> Bool {
        if enrolled.contains(device) { return true }
        guard let record = try? await store.device(id: device), record.state == .enrolled else { return false }
        enrolled.insert(device)
        return true
    }
}
