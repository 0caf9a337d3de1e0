import Foundation

/// Where a simulated fleet stands: one line per second while it runs, a JSON summary at the end.
public struct SimulationProgress: Sendable, Equatable, Codable {
    /// How one version's rollout went on the devices (this run).
    public struct Rollout: Sendable, Equatable, Codable {
        /// Devices that committed the version.
        public var committed: Int
        /// Seconds from the start of the simulation to the first device starting its download.
        public var firstDownloadSeconds: Double
        /// Seconds from the start of the simulation to the last commit so far.
        public var lastCommitSeconds: Double
        /// `lastCommitSeconds - firstDownloadSeconds`: how long the devices took, from the first
        /// download to the last commit.
        public var spanSeconds: Double
    }

    /// Devices in the fleet.
    public var devices: Int
    /// Devices whose agent started (store open, session started).
    public var started: Int
    /// Devices connected to the broker now.
    public var connected: Int
    /// Devices serving each version of the simulated model.
    public var versions: [String: Int]
    /// Devices with an update in progress.
    public var updating: Int
    /// Devices whose last update failed or rolled back.
    public var failed: Int
    /// Assignments refused, over all devices.
    public var refused: Int
    /// Devices that could not start.
    public var startFailures: Int
    /// Seconds since the simulation started.
    public var elapsedSeconds: Double
    /// Seconds until every started device had connected once (nil until then).
    public var allConnectedSeconds: Double?
    /// Rollouts seen this run, by version.
    public var rollouts: [String: Rollout]
    /// The simulator's resident memory, bytes.
    public var rssBytes: Int64
    /// `rssBytes / started`.
    public var rssPerDeviceBytes: Int64
    /// The simulator's threads.
    public var threads: Int
    /// The simulator's open file descriptors.
    public var fileDescriptors: Int
    /// CPU seconds the simulator used so far (user and system).
    public var cpuSeconds: Double

    /// The progress line: `12s started 1000/1000 connected 1000 updating 3 failed 0 refused 0 | 1.0.0=500 2.0.0=500`.
    public var line: String {
        let counts = versions.keys.sorted().map { "\($0)=\(versions[$0]!)" }.joined(separator: " ")
        return "\(Int(elapsedSeconds))s started \(started)/\(devices) connected \(connected) updating \(updating) "
            + "failed \(failed) refused \(refused)" + (counts.isEmpty ? "" : " | \(counts)")
    }

    /// The summary as one line of JSON, keys sorted.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
