import Core

/// Fleet aggregates for `/metrics`, computed at scrape time from the live status, the rollouts
/// and the chunk server. Labels are bounded by the fleet's shape (presence, health, model and
/// version, rollout state), never by device, so the series count does not grow with the fleet.
enum FleetAggregates {
    /// The exposition text (Prometheus 0.0.4) of the fleet's aggregates.
    static func exposition(_ services: HubServices) async -> String {
        let statuses = await services.monitor.allStatuses()
        let counters = await services.monitor.counters
        var lines: [String] = []
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
            for (labels, value) in samples { lines.append("\(name)\(labels) \(format(value))") }
        }
        var presence: [String: Int] = ["online": 0, "offline": 0, "unknown": 0]
        var health: [String: Int] = ["healthy": 0, "degraded": 0, "offline": 0, "unknown": 0]
        var versions: [String: Int] = [:]
        for status in statuses {
            presence[status.presence.rawValue, default: 0] += 1
            health[status.health().rawValue, default: 0] += 1
            if let model = status.modelName, let version = status.modelVersion {
                versions["{model=\"\(escape(model))\",version=\"\(escape(version))\"}", default: 0] += 1
            }
        }
        family(
            "starling_hub_devices", "gauge", "Devices with a live status, by presence.",
            presence.keys.sorted().map { ("{presence=\"\($0)\"}", Double(presence[$0]!)) })
        family(
            "starling_hub_devices_by_health", "gauge", "Devices with a live status, by health.",
            health.keys.sorted().map { ("{health=\"\($0)\"}", Double(health[$0]!)) })
        family(
            "starling_hub_devices_by_version", "gauge", "Devices by the model version they report.",
            versions.keys.sorted().map { ($0, Double(versions[$0]!)) })
        family(
            "starling_hub_device_messages", "counter", "Status and telemetry messages by outcome since the hub started.",
            [
                ("{outcome=\"applied\"}", Double(counters.applied)), ("{outcome=\"unknown_device\"}", Double(counters.unknownDevice)),
                ("{outcome=\"malformed\"}", Double(counters.malformed)),
            ])
        var states: [String: Int] = [
            "pending": 0, "observing": 0, "paused": 0, "rollingBack": 0, "rolledBack": 0, "completed": 0,
        ]
        if let rollouts = try? await services.rollouts.views(activeOnly: false, by: .localCommandLine) {
            for rollout in rollouts { states[RolloutMetricsName.of(rollout.record.state), default: 0] += 1 }
        }
        family(
            "starling_hub_rollouts", "gauge", "Rollouts by state.",
            states.keys.sorted().map { ("{state=\"\($0)\"}", Double(states[$0]!)) })
        var roundStates = Dictionary(uniqueKeysWithValues: RoundStatus.allCases.map { ($0.rawValue, 0) })
        if let rounds = try? await services.rounds.list() {
            for round in rounds { roundStates[round.status.rawValue, default: 0] += 1 }
        }
        family(
            "starling_hub_rounds", "gauge", "Federated rounds by status.",
            roundStates.keys.sorted().map { ("{status=\"\($0)\"}", Double(roundStates[$0]!)) })
        let fl = await services.rounds.counters
        var updates = Dictionary(uniqueKeysWithValues: UpdateRejection.allCases.map { ($0.rawValue, 0) })
        for (reason, count) in fl.rejected { updates[reason, default: 0] += count }
        family(
            "starling_hub_fl_updates", "counter", "Federated updates since the hub started, by outcome (accepted or the refusal's reason).",
            [("{outcome=\"accepted\"}", Double(fl.accepted))]
                + updates.keys.sorted().map { ("{outcome=\"\($0)\"}", Double(updates[$0]!)) })
        family(
            "starling_hub_fl_bytes", "counter", "Federated bytes since the hub started: task frames sent, update payloads received.",
            [("{direction=\"down\"}", Double(fl.bytesDown)), ("{direction=\"up\"}", Double(fl.bytesUp))])
        family(
            "starling_hub_fl_iterations", "counter", "Federated iterations closed since the hub started.",
            [("", Double(fl.iterations))])
        if let server = services.chunkServer {
            let statistics = await server.statistics
            family(
                "starling_hub_chunk_bytes_sent", "counter", "Package bytes sent to devices in chunks since the hub started.",
                [("", Double(statistics.bytesSent))])
            family(
                "starling_hub_chunk_requests", "counter", "Fetch requests from devices since the hub started, by outcome.",
                [
                    ("{outcome=\"accepted\"}", Double(statistics.accepted)),
                    ("{outcome=\"refused\"}", Double(statistics.refused.values.reduce(0, +))),
                ])
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}

enum RolloutMetricsName {
    static func of(_ state: RolloutState) -> String {
        switch state {
        case .pending: "pending"
        case .observing: "observing"
        case .paused: "paused"
        case .rollingBack: "rollingBack"
        case .rolledBack: "rolledBack"
        case .completed: "completed"
        }
    }
}
