import ArgumentParser
import Foundation

struct RoundCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "round",
        abstract: "Federated rounds: devices train on their own data, the hub aggregates, the result becomes a version.",
        subcommands: [RoundStart.self, RoundList.self, RoundShow.self, RoundWatch.self, RoundCancel.self])
}

struct RoundStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start a federated round on the devices a selector or group names.",
        discussion: """
            Each iteration sends the global parameters to a share of the eligible devices (online, serving the model, \
            enrolled with a signing key, not degraded); they train on their labelled feedback and send signed updates; \
            the hub aggregates at quorum or the deadline. After the last iteration the devices evaluate the result, \
            and it is registered as a new version with the round in its lineage.
            """)

    @OptionGroup var hub: HubOptions
    @Option(help: "The model.")
    var model: String
    @Option(help: "The version to start from (default: the production alias, else the latest).")
    var fromVersion: String?
    @Option(help: "The devices: a label selector ('site=north') or group:NAME (default: every enrolled device).")
    var select: String?
    @Option(help: "The aggregation strategy (fedavg, fedprox, ...).")
    var strategy: String?
    @Option(help: "A strategy parameter by its Flower name, NAME=VALUE, e.g. server_momentum=0.9 or beta=0.2; repeat for several.")
    var strategyOption: [String] = []
    @Option(help: "Accepted updates an iteration needs at its deadline (default 2).")
    var minClients: Int?
    @Option(help: "The share of eligible devices asked each iteration, e.g. 0.5 (default 1).")
    var fraction: Double?
    @Option(help: "How long each iteration waits for updates: 30s, 5m (default 5m).")
    var deadline: String?
    @Option(help: "Iterations (default 1).")
    var rounds: Int?
    @Option(help: "Local epochs per iteration (default 2).")
    var localEpochs: Int?
    @Option(help: "Local batch size (default 32).")
    var batchSize: Int?
    @Option(help: "Local learning rate (default 0.1).")
    var lr: Double?
    @Option(help: "Local optimizer: sgd or adam (default sgd).")
    var optimizer: String?
    @Option(help: "FedProx proximal weight μ for the local training.")
    var mu: Double?
    @Option(help: "Devices clip their update to this L2 norm.")
    var clipNorm: Double?
    @Option(help: "The hub refuses updates with a larger L2 norm.")
    var normBound: Double?
    @Option(help: "How devices encode updates: float32, float16, int8 or topk (default float32).")
    var encoding: String?
    @Option(help: "The fraction kept with --encoding topk, e.g. 0.1.")
    var topK: Double?
    @Option(help: "How the global travels to devices: float32, float16 or int8 (default float32).")
    var downEncoding: String?
    @Option(help: "Devices with fewer labelled examples skip the task (default 1).")
    var minExamples: Int?
    @Option(help: "The version to register (default: the next minor after the base).")
    var version: String?
    @Option(help: "dynamic (int8 weights, default) or none (float).")
    var quantize: String?
    @Flag(help: "Skip the final federated evaluation.")
    var noEvaluate = false

    func validate() throws {
        if let deadline { _ = try HubArguments.duration(deadline, flag: "--deadline") }
        for option in strategyOption where option.split(separator: "=").count != 2 || Double(option.split(separator: "=")[1]) == nil {
            throw ValidationError("--strategy-option '\(option)' must be NAME=NUMBER")
        }
    }

    /// The request body; the hub checks every value.
    var body: JSONValue {
        var body: [String: JSONValue] = ["model": .string(model)]
        func set(_ key: String, _ value: String?) { if let value { body[key] = .string(value) } }
        func set(_ key: String, _ value: Int?) { if let value { body[key] = .integer(Int64(value)) } }
        func set(_ key: String, _ value: Double?) { if let value { body[key] = .number(value) } }
        set("fromVersion", fromVersion)
        set("select", select)
        set("strategy", strategy)
        set("minClients", minClients)
        set("fraction", fraction)
        set("deadline", deadline)
        set("rounds", rounds)
        set("localEpochs", localEpochs)
        set("batchSize", batchSize)
        set("lr", lr)
        set("optimizer", optimizer)
        set("mu", mu)
        set("clipNorm", clipNorm)
        set("normBound", normBound)
        set("encoding", encoding)
        set("topK", topK)
        set("downEncoding", downEncoding)
        set("minExamples", minExamples)
        set("version", version)
        set("quantize", quantize)
        if noEvaluate { body["evaluate"] = .bool(false) }
        if !strategyOption.isEmpty {
            var options: [String: JSONValue] = [:]
            for option in strategyOption {
                let parts = option.split(separator: "=")
                options[String(parts[0])] = .number(Double(parts[1])!)
            }
            body["strategyOptions"] = .object(options)
        }
        return .object(body)
    }

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["rounds"], body: .json(body)))
            try hub.show(answer) {
                let round = try answer.decode(RoundRecordView.self)
                return "Started round \(round.id): \(round.model) from \(round.baseVersion) on '\(round.selector)'. "
                    + "Follow it: starling round watch \(round.id)"
            }
        }
    }
}

struct RoundList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List federated rounds.")

    @OptionGroup var hub: HubOptions
    @Flag(help: "Only running rounds.")
    var active = false

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["rounds"], query: active ? [("active", "true")] : [], paging: nil)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["id", "model", "base", "status", "iterations", "accuracy", "result", "updated"],
                    try listing.decode(RoundRecordView.self).map {
                        [
                            $0.id, $0.model, $0.baseVersion, $0.status, "\($0.iterations)",
                            $0.history.last?.accuracy.map { String(format: "%.4f", $0) } ?? "-", $0.resultVersion ?? "-",
                            HubOutput.ago($0.updatedAt),
                        ]
                    })
            }
        }
    }
}

struct RoundShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a round: its settings, each iteration, the open one and its events.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The round's id.")
    var id: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("GET", ["rounds", id]))
            try hub.show(answer) { try answer.decode(RoundRecordView.self).rendered }
        }
    }
}

struct RoundWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch", abstract: "Follow a round, a line per closed iteration, until it ends.",
        discussion: "Exit status 0 when it completes, 1 when it fails or is cancelled.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The round's id.")
    var id: String
    @Option(help: "How often to ask the hub: 1s, 2s.")
    var interval = "1s"

    func validate() throws { _ = try HubArguments.duration(interval, flag: "--interval") }

    func run() async throws {
        let pause = try HubArguments.duration(interval, flag: "--interval")
        var completed = false
        try await hub.run { client in
            var printed = 0
            var lastEvent: RoundRecordView.Event?
            while true {
                let answer = try await client.json(HubRequest("GET", ["rounds", id]))
                let round = try answer.decode(RoundRecordView.self)
                let events = round.events ?? []
                if hub.json {
                    if round.history.count != printed || round.status != "running" { print(answer.compactASCII) }
                } else {
                    for event in Self.newEvents(events, after: lastEvent) { print(event.text) }
                    for iteration in round.history.dropFirst(printed) { print(iteration.line) }
                }
                printed = round.history.count
                lastEvent = events.last ?? lastEvent
                if round.status != "running" {
                    completed = round.status == "completed"
                    if !hub.json { print("round \(round.id) \(round.status)" + (round.resultVersion.map { ": \($0)" } ?? "")) }
                    break
                }
                try? await Task.sleep(for: .milliseconds(pause))
            }
        }
        if !completed { throw ExitCode.failure }
    }

    /// The events after `last` in `events` (the hub's most recent ones, oldest first: a window
    /// that slides once the round has more than the hub shows); all of them when `last` is gone.
    static func newEvents(_ events: [RoundRecordView.Event], after last: RoundRecordView.Event?) -> [RoundRecordView.Event] {
        guard let last else { return events }
        guard let index = events.lastIndex(where: { $0.time == last.time && $0.text == last.text }) else { return events }
        return Array(events[(index + 1)...])
    }
}

struct RoundCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a running round.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The round's id.") var id: String
    @Option(help: "Why (recorded in the audit log).") var reason: String?

    func run() async throws {
        let body: JSONValue = .object(reason.map { ["reason": .string($0)] } ?? [:])
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["rounds", id, "cancel"], body: .json(body)))
            try hub.show(answer) {
                let round = try answer.decode(RoundRecordView.self)
                return "Round \(round.id): \(round.status)"
            }
        }
    }
}

/// A round as the hub's API shows it (what the CLI reads of it).
struct RoundRecordView: Decodable {
    struct Iteration: Decodable {
        var number: Int
        var kind: String
        var selected: Int
        var participants: [String]
        var accuracy: Double?
        var loss: Double?
        var evalExamples: Int
        var trainLoss: Double?
        var bytesDown: Int
        var bytesUp: Int
        var rejected: [String: Int]
        var millis: Int64
        var epsilon: Double?
        var delta: Double?

        var line: String {
            let acc = accuracy.map { String(format: "%.4f", $0) } ?? "n/a"
            let loss = loss.map { String(format: "%.4f", $0) } ?? "n/a"
            let refused = rejected.isEmpty ? "" : ", refused " + rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: " ")
            return "iteration \(number) (\(kind)): \(participants.count)/\(selected) devices, federated accuracy \(acc), loss \(loss) on \(evalExamples) examples, "
                + "\(bytesDown) B down, \(bytesUp) B up, \(millis) ms\(refused)"
                + (epsilon.map { String(format: ", privacy spent ε %.3g at δ %.0e", $0, delta ?? 0) } ?? "")
        }
    }

    struct Event: Decodable {
        var time: Int64
        var text: String
    }

    var id: String
    var model: String
    var baseVersion: String
    var selector: String
    var status: String
    var iterations: Int
    var history: [Iteration]
    var resultVersion: String?
    var message: String?
    var updatedAt: Int64
    var events: [Event]?

    var rendered: String {
        var lines = [
            "round \(id): \(model) from \(baseVersion) on '\(selector)'", "status: \(status)" + (message.map { " (\($0))" } ?? ""),
        ]
        if let resultVersion { lines.append("result: \(model) \(resultVersion)") }
        lines += history.map(\.line)
        if let events, !events.isEmpty {
            lines.append("events:")
            lines += events.map { "  \($0.text)" }
        }
        return lines.joined(separator: "\n")
    }
}
