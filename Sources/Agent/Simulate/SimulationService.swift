import Core
import Synchronization

/// Many simulated agents in one process: started at a bounded rate so their connections do not
/// stampede the broker, fed traffic from one loop, and summarized for progress lines.
public final class SimulationService: Sendable {
    /// Makes a device's transport; `will` is the retained `offline` status it must carry.
    public typealias TransportFactory = @Sendable (_ device: SimulatedDevice, _ will: Message) throws -> any MessageTransport

    /// The fleet.
    public let devices: [SimulatedDevice]
    /// What the agents share.
    public let settings: SimulationSettings
    /// Agents started per second, at most.
    public let connectRate: Double
    private let makeTransport: TransportFactory
    private let log: @Sendable (String) -> Void
    private let agents = Mutex<[SimulatedAgent]>([])
    private let failures = Mutex<[String]>([])
    private let began = ContinuousClock.now
    private let allConnected = Mutex<Duration?>(nil)
    /// The one CPU reading of the whole process at the start.
    private let startCPU = ProcessFootprint.now().cpuSeconds

    /// A fleet of `devices` sharing `settings`; `connectRate` agents start per second.
    public init(
        devices: [SimulatedDevice], settings: SimulationSettings, connectRate: Double = 100,
        makeTransport: @escaping TransportFactory, log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(SimulationError) {
        try settings.validate()
        guard connectRate > 0 else { throw SimulationError(.invalidSetting, "--connect-rate must be positive") }
        guard Set(devices.map(\.id)).count == devices.count else {
            throw SimulationError(.invalidSetting, "device ids must be unique")
        }
        self.devices = devices
        self.settings = settings
        self.connectRate = connectRate
        self.makeTransport = makeTransport
        self.log = log
    }

    /// The agents started so far, in start order.
    public var started: [SimulatedAgent] { agents.withLock { $0 } }

    /// Why agents failed to start, one line each.
    public var startFailures: [String] { failures.withLock { $0 } }

    /// Raises the open-files limit to the hard limit (each agent holds a socket and its store's
    /// files); returns the limit now in force.
    @discardableResult
    public static func raiseFileLimit() -> Int { ProcessFootprint.raiseFileLimit() }

    /// Returns freed memory to the system (call it when a rollout has settled).
    public func releaseFreedMemory() {
        ProcessFootprint.releaseFreedMemory()
    }

    // MARK: - Running

    /// Starts every agent, `connectRate` per second with a few opening their stores at once,
    /// and returns when all have started (or failed to). Cancelling stops starting more.
    public func start() async {
        let spacing = Duration.seconds(1) / connectRate
        let concurrency = 16
        await withTaskGroup(of: Void.self) { group in
            for (position, device) in devices.enumerated() {
                if Task.isCancelled { break }
                if position >= concurrency { await group.next() }
                let due = began + spacing * position
                if due > ContinuousClock.now { try? await Task.sleep(until: due) }
                group.addTask { await self.startOne(device) }
            }
        }
    }

    private func startOne(_ device: SimulatedDevice) async {
        do {
            let will = try SimulatedAgent.lastWill(for: device, settings: settings)
            let transport: any MessageTransport
            do {
                transport = try makeTransport(device, will)
            } catch {
                throw SimulationError(.startFailed, "\(device.id): cannot make its transport", underlying: error)
            }
            let agent = try await SimulatedAgent.start(device: device, settings: settings, transport: transport, log: log)
            agents.withLock { $0.append(agent) }
        } catch {
            failures.withLock { $0.append("\(error)") }
            log("start failed: \(error)")
        }
    }

    /// Generates traffic until cancelled: every agent gets `settings.trafficInterval` worth of
    /// requests once per interval, the agents spread over the interval in one-second steps.
    public func runTraffic() async {
        let interval = settings.trafficInterval
        let step = min(interval, .seconds(1))
        let steps = max(1, Int((interval / step).rounded()))
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) * 1e-18
        var tick = 0
        var next = ContinuousClock.now + step
        while !Task.isCancelled {
            do { try await Task.sleep(until: next) } catch { return }
            next += step
            for (position, agent) in started.enumerated() where (position + tick) % steps == 0 {
                if Task.isCancelled { return }
                await agent.generateTraffic(seconds: seconds)
            }
            tick += 1
        }
    }

    /// Stops every agent (each publishes `offline`), a few at a time.
    public func stop() async {
        let all = agents.withLock { agents in
            defer { agents.removeAll() }
            return agents
        }
        await withTaskGroup(of: Void.self) { group in
            for (position, agent) in all.enumerated() {
                if position >= 32 { await group.next() }
                group.addTask { await agent.stop() }
            }
        }
    }

    // MARK: - Progress

    /// Where the fleet stands now.
    public func progress() -> SimulationProgress {
        let snapshots = started.map(\.snapshot)
        let elapsed = ContinuousClock.now - began
        var versions: [String: Int] = [:]
        var downloads: [String: ContinuousClock.Instant] = [:]
        var commits: [String: (count: Int, last: ContinuousClock.Instant)] = [:]
        for snapshot in snapshots {
            if let version = snapshot.version { versions[version, default: 0] += 1 }
            for (version, at) in snapshot.downloadStarted { downloads[version] = min(downloads[version] ?? at, at) }
            for (version, at) in snapshot.committed {
                let before = commits[version]
                commits[version] = ((before?.count ?? 0) + 1, max(before?.last ?? at, at))
            }
        }
        let connected = snapshots.filter(\.connected).count
        if connected == devices.count { allConnected.withLock { $0 = $0 ?? elapsed } }
        var rollouts: [String: SimulationProgress.Rollout] = [:]
        for (version, commit) in commits {
            let first = Self.seconds((downloads[version] ?? began) - began)
            let last = Self.seconds(commit.last - began)
            rollouts[version] = .init(
                committed: commit.count, firstDownloadSeconds: first, lastCommitSeconds: last, spanSeconds: last - first)
        }
        let footprint = ProcessFootprint.now()
        return SimulationProgress(
            devices: devices.count, started: snapshots.count, connected: connected, versions: versions,
            updating: snapshots.filter(\.updating).count, failed: snapshots.filter(\.failed).count,
            refused: snapshots.reduce(0) { $0 + $1.refused }, startFailures: failures.withLock { $0.count },
            elapsedSeconds: Self.seconds(elapsed), allConnectedSeconds: allConnected.withLock { $0 }.map(Self.seconds),
            rollouts: rollouts, rssBytes: footprint.rssBytes,
            rssPerDeviceBytes: snapshots.isEmpty ? 0 : footprint.rssBytes / Int64(snapshots.count), threads: footprint.threads,
            fileDescriptors: footprint.fileDescriptors, cpuSeconds: footprint.cpuSeconds - startCPU)
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
