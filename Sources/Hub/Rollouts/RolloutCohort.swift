import Crypto

/// Which devices of a target run the new version in a phase: the target sorted by a hash of the
/// rollout's salt and the device id, and the first `ceil(share × count)` of them. The order does
/// not depend on the phase, so a device that got the new version keeps it as the share grows,
/// and another rollout (another salt) picks other canaries.
public enum RolloutCohort {
    /// The devices of `target` on the new version at `share` (0 to 1), in hash order.
    public static func select(_ target: [String], share: Double, salt: String) -> [String] {
        let ordered = order(target, salt: salt)
        let count = Int((Double(ordered.count) * min(max(share, 0), 1)).rounded(.up))
        return Array(ordered.prefix(count))
    }

    /// `target` in the rollout's stable order.
    public static func order(_ target: [String], salt: String) -> [String] {
        Set(target).map { ($0, rank($0, salt: salt)) }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.map(\.0)
    }

    private static func rank(_ device: String, salt: String) -> UInt64 {
        let digest = SHA256.hash(data: Array((salt + "\u{0}" + device).utf8))
        return digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension PhaseHealth {
    /// The fleet's aggregates of `model` over the window from `since` (ms since the epoch): each
    /// device counts with its latest telemetry in the window, grouped by the version it ran.
    /// Error rate and accuracy are weighted by predictions and labels; p95 latency is the median
    /// of the devices' p95 (a fleet-wide percentile cannot be rebuilt from device percentiles;
    /// the median keeps one slow device from deciding alone).
    public static func aggregate(
        _ statuses: [DeviceLiveStatus], model: String, candidate: String, baseline: String?, since: Int64
    ) -> PhaseHealth {
        // The same sums as a phase window, over the latest telemetry only (window from `since` on).
        var window = PhaseWindow(since: since - 1)
        window.add(statuses, model: model, candidate: candidate, baseline: baseline)
        return window.health(minSamples: 1)
    }
}
