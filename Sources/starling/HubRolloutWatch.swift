import ArgumentParser
import Foundation

struct RolloutWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a rollout, a line on every change, until it completes or is rolled back.",
        discussion:
            "Exit status 0 when it completes, 1 when it is rolled back (or the hub cannot be asked). With --json, one JSON document per change."
    )

    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.")
    var id: String
    @Option(help: "How often to ask the hub: 1s, 2s, 1m.")
    var interval = "2s"

    /// Connection failures in a row tolerated before giving up (a hub restart takes a moment).
    static let connectionRetries = 5

    func validate() throws { _ = try HubArguments.duration(interval, flag: "--interval") }

    func run() async throws {
        let pause = try HubArguments.duration(interval, flag: "--interval")
        var outcome = false
        try await hub.run { client in
            var changes = RolloutChanges()
            var failures = 0
            while true {
                let answer: JSONValue
                switch await fetch(client) {
                case .success(let value):
                    answer = value
                    failures = 0
                case .failure(let error) where error.kind == .connection && failures < Self.connectionRetries:
                    failures += 1
                    Output.note("\(error.description) (retrying)")
                    try? await Task.sleep(for: .milliseconds(pause))
                    continue
                case .failure(let error):
                    throw error
                }
                let rollout = try answer.decode(RolloutRecord.self)
                let lines = changes.update(rollout, now: Int64(Date().timeIntervalSince1970 * 1000))
                if hub.json {
                    if !lines.isEmpty { print(answer.compactASCII) }
                } else {
                    for line in lines { print(line) }
                }
                if rollout.isFinished {
                    outcome = rollout.state.state == "completed"
                    break
                }
                try? await Task.sleep(for: .milliseconds(pause))
            }
        }
        if !outcome { throw ExitCode.failure }
    }

    /// One look at the rollout, the error as a value so the loop can decide to retry.
    private func fetch(_ client: HubClient) async -> Result<JSONValue, HubError> {
        do {
            return .success(try await client.json(HubRequest("GET", ["rollouts", id])))
        } catch {
            return .failure(error)
        }
    }
}

/// What changed between two looks at a rollout, as lines to print: the state, phase and
/// progress when any of them moved, and each event not printed before.
struct RolloutChanges {
    private var state: RolloutRecord.State?
    private var progress: RolloutRecord.Progress?
    private var reporting: Int?
    private var eventsSeen = 0

    /// The lines for `rollout`; empty when nothing changed.
    mutating func update(_ rollout: RolloutRecord, now: Int64) -> [String] {
        var lines: [String] = []
        let events = rollout.events ?? []
        // The hub may keep only recent events; a shorter list than before starts afresh.
        if events.count < eventsSeen { eventsSeen = 0 }
        for event in events.dropFirst(eventsSeen) { lines.append("\(HubOutput.time(event.time))  \(event.text)") }
        eventsSeen = events.count
        let reportingNow = rollout.health?.reportingDevices
        if rollout.state != state || rollout.progress != progress || reportingNow != reporting {
            state = rollout.state
            progress = rollout.progress
            reporting = reportingNow
            lines.append(
                "\(HubOutput.time(now))  \(rollout.stateText)  \(rollout.progressText)"
                    + (reportingNow.map { ", \($0) reporting" } ?? ""))
        }
        return lines
    }
}

/// A rollout as text.
enum RolloutRender {
    static func rollout(_ r: RolloutRecord) -> String {
        var pairs: [(String, String)] = [
            ("id", r.id), ("model", r.model), ("candidate", r.candidate), ("baseline", r.baseline ?? "-"),
            ("target", r.selector ?? "-"), ("state", r.stateText),
        ]
        if let since = r.state.since { pairs.append(("since", HubOutput.time(since))) }
        if let plan = r.plan {
            if let phases = plan.phases { pairs.append(("phases", phases.map { HubOutput.percent($0) }.joined(separator: ","))) }
            if let split = plan.split { pairs.append(("split", HubOutput.percent(split))) }
            for gate in plan.gates ?? [] { pairs.append(("gate", gate)) }
            if let minDevices = plan.minDevices { pairs.append(("min devices", String(minDevices))) }
            if let observe = plan.observeMilliseconds { pairs.append(("observe", HubOutput.duration(observe))) }
            if let onFail = plan.onFail { pairs.append(("on fail", onFail)) }
        }
        if let progress = r.progress {
            pairs.append(
                (
                    "progress",
                    "target \(progress.target ?? 0), assigned \(progress.assigned ?? 0), on candidate \(progress.onCandidate ?? 0), "
                        + "on baseline \(progress.onBaseline ?? 0)"
                ))
        }
        pairs.append(("created", HubOutput.time(r.createdAt) + (r.createdBy.map { " by " + $0 } ?? "")))
        pairs.append(("updated", HubOutput.time(r.updatedAt)))
        var text = HubOutput.fields(pairs)
        if let health = r.health {
            let metrics = Set((health.candidate ?? [:]).keys).union((health.baseline ?? [:]).keys).sorted()
            text += "\n\nHealth (devices reporting on the candidate: \(health.reportingDevices ?? 0))\n"
            text += HubOutput.table(
                ["metric", "candidate", "baseline"],
                metrics.map {
                    [$0, HubOutput.number(health.candidate?[$0] ?? nil), HubOutput.number(health.baseline?[$0] ?? nil)]
                })
        }
        if let events = r.events, !events.isEmpty {
            text += "\n\nEvents\n" + events.map { "\(HubOutput.time($0.time))  \($0.text)" }.joined(separator: "\n")
        }
        return text
    }
}
