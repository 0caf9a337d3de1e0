import ArgumentParser
import Foundation

struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Staged rollouts: phases of growing shares, health gates against the baseline, rollback on failure.",
        subcommands: [
            RolloutCreate.self, RolloutList.self, RolloutShow.self, RolloutWatch.self, RolloutPromote.self, RolloutPause.self,
            RolloutResume.self, RolloutAbort.self,
        ])
}

struct RolloutCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Start rolling a version out to the devices a selector or group names.",
        discussion: """
            Gates are METRIC OP BOUND: metrics error_rate, p50_latency, p95_latency, accuracy, rollbacks; \
            OP <=, >=, <, >; the bound a number or relative to the baseline (baseline + 0.01, 1.2 * baseline). \
            They go to the hub as written, and the hub checks them.
            """)

    @OptionGroup var hub: HubOptions
    @Option(help: "The model.")
    var model: String
    @Option(help: "The candidate version.")
    var version: String
    @Option(help: "The devices: a label selector ('site=north,tier in (a,b)') or group:NAME.")
    var target: String
    @Option(help: "The share of the target on the candidate in each phase, e.g. 5%,25%,100%.")
    var phases: String?
    @Option(help: "A health gate every phase must pass, e.g. 'error_rate <= baseline + 0.01'; repeat for several.")
    var gate: [String] = []
    @Option(help: "Devices on the candidate that must report before a phase can pass or fail.")
    var minDevices: Int?
    @Option(help: "Predictions (error rate, latency) and feedback labels (accuracy) each arm needs in a phase before its metric counts (hub default 30).")
    var minSamples: Int?
    @Option(help: "How long each phase is observed: 30s, 10m, 1h.")
    var observe: String?
    @Option(help: "What a failing gate does: rollback or pause.")
    var onFail: String?
    @Option(help: "The version to compare with and to roll back to (default: what the target runs now).")
    var baseline: String?
    @Option(help: "An A/B split: this share stays on the candidate, without advancing on its own, e.g. 50%.")
    var split: String?

    func validate() throws {
        if let phases { _ = try HubArguments.phases(phases) }
        if let observe { _ = try HubArguments.duration(observe, flag: "--observe") }
        if let split { _ = try HubArguments.percent(split, flag: "--split", below100: true) }
        if let minDevices, minDevices < 1 { throw ValidationError("--min-devices must be at least 1") }
        if let minSamples, minSamples < 1 { throw ValidationError("--min-samples must be at least 1") }
        if let onFail, !["rollback", "pause"].contains(onFail) {
            throw ValidationError("--on-fail must be rollback or pause, not '\(onFail)'")
        }
        if let empty = gate.first(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--gate '\(empty)' is empty; write e.g. 'error_rate <= baseline + 0.01'")
        }
    }

    /// The request body: values as written (the hub parses selectors, phases, gates and durations).
    var body: JSONValue {
        var body: [String: JSONValue] = ["model": .string(model), "version": .string(version), "target": .string(target)]
        if let phases { body["phases"] = .string(phases) }
        if !gate.isEmpty { body["gates"] = .array(gate.map(JSONValue.string)) }
        if let minDevices { body["minDevices"] = .integer(Int64(minDevices)) }
        if let minSamples { body["minSamples"] = .integer(Int64(minSamples)) }
        if let observe { body["observe"] = .string(observe) }
        if let onFail { body["onFail"] = .string(onFail) }
        if let baseline { body["baseline"] = .string(baseline) }
        if let split { body["split"] = .string(split) }
        return .object(body)
    }

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["rollouts"], body: .json(body)))
            try hub.show(answer) {
                let rollout = try answer.decode(RolloutRecord.self)
                return "Created rollout \(rollout.id): \(rollout.model) \(rollout.candidate) (\(rollout.stateText)). "
                    + "Follow it: starling rollout watch \(rollout.id)"
            }
        }
    }
}

struct RolloutList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List rollouts.")

    @OptionGroup var hub: HubOptions
    @Flag(help: "Only rollouts not finished yet.")
    var active = false

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["rollouts"], query: active ? [("active", "true")] : [], paging: nil)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["id", "model", "candidate", "baseline", "target", "state", "progress", "updated"],
                    try listing.decode(RolloutRecord.self).map {
                        [
                            $0.id, $0.model, $0.candidate, $0.baseline ?? "-", $0.selector ?? "-", $0.stateText, $0.progressText,
                            HubOutput.ago($0.updatedAt ?? $0.createdAt),
                        ]
                    })
            }
        }
    }
}

struct RolloutShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a rollout: plan, state, progress, health, events.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.")
    var id: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("GET", ["rollouts", id]))
            try hub.show(answer) { RolloutRender.rollout(try answer.decode(RolloutRecord.self)) }
        }
    }
}

/// `promote`, `pause`, `resume`, `abort`: one POST each.
protocol RolloutAction: AsyncParsableCommand {
    var hub: HubOptions { get }
    var id: String { get }
    var reason: String? { get }
    static var verb: String { get }
}

extension RolloutAction {
    func run() async throws {
        let body: JSONValue = .object(reason.map { ["reason": .string($0)] } ?? [:])
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["rollouts", id, Self.verb], body: .json(body)))
            try hub.show(answer) {
                let rollout = try answer.decode(RolloutRecord.self)
                return "Rollout \(rollout.id): \(rollout.stateText)"
            }
        }
    }
}

struct RolloutPromote: RolloutAction {
    static let configuration = CommandConfiguration(
        commandName: "promote", abstract: "Move to the next phase now, without waiting for the gates.")
    static let verb = "promote"
    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.") var id: String
    @Option(help: "Why (recorded in the audit log).") var reason: String?
}

struct RolloutPause: RolloutAction {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop where it is until resumed, promoted or aborted.")
    static let verb = "pause"
    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.") var id: String
    @Option(help: "Why (recorded in the audit log).") var reason: String?
}

struct RolloutResume: RolloutAction {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused rollout.")
    static let verb = "resume"
    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.") var id: String
    @Option(help: "Why (recorded in the audit log).") var reason: String?
}

struct RolloutAbort: RolloutAction {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Abort: assign the baseline to every device of the rollout again.")
    static let verb = "abort"
    @OptionGroup var hub: HubOptions
    @Argument(help: "The rollout's id.") var id: String
    @Option(help: "Why (recorded in the audit log).") var reason: String?
}
