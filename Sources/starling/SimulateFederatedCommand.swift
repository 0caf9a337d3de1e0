import ArgumentParser
import Core
import Foundation
import TransportMQTT

/// `starling simulate`: in-process simulations of fleet features.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate", abstract: "Run fleet features in one process (federated learning).",
        subcommands: [SimulateFederated.self])
}

/// `starling simulate federated`: federated rounds over partitioned CSV data with the real client
/// code, the real frames and a pluggable aggregation strategy.
struct SimulateFederated: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "federated",
        abstract: "Simulate federated training: every client runs the device code on its partition.",
        discussion: """
            Each round the global parameters are encoded into one task frame, every selected client \
            evaluates them, trains locally, clips, encodes and signs its update, and the server decodes \
            the updates, aggregates them and evaluates the new global on the test rows. Prints one line \
            per round and a summary; --json writes the whole curve.

            --network carries the frames over a broker instead of handing them over in memory: every \
            client and the server open their own session, tasks go to each device's fl/task topic and \
            updates come back on fl/update, and the bytes are counted as MQTT packets at the devices' \
            transports. `memory` uses an in-process broker, `mosquitto` starts a private Mosquitto on a \
            free loopback port for the run, HOST:PORT uses a running broker (--username, password in \
            STARLING_MQTT_PASSWORD). The result equals the in-process run's.
            """)

    @Option(help: "Labelled data (CSV with a header row).")
    var data: String
    @Option(help: "Name of the label column.")
    var label = "label"
    @Option(help: "Split JSON with train_indices, test_indices and clients (id -> row indices).")
    var partition: String
    @Option(help: "Use the first N partitions (default: all).")
    var clients: Int?
    @Option(help: "Share of the clients sent the task each round.")
    var fraction = 1.0
    @Option(help: "Rounds.")
    var rounds = 30
    @Option(help: "Model: mlp (64 hidden units), mlp:H1,H2,... or logreg.")
    var model = "mlp"
    @Option(name: .customLong("local-epochs"), help: "Local epochs per round.")
    var localEpochs = 2
    @Option(help: "Local learning rate.")
    var lr = 0.1
    @Option(name: .customLong("lr-decay"), help: "Multiply the local learning rate by this after each round.")
    var lrDecay = 1.0
    @Option(help: "Examples per local step.")
    var batch = 32
    @Option(name: .customLong("local-optimizer"), help: "sgd or adam.")
    var localOptimizer = "sgd"
    @Option(help: "FedProx proximal weight mu (0: off).")
    var mu = 0.0
    @Option(help: "fedavg, fedprox, fedavgm[:SERVER_LR,MOMENTUM], fedadam[:ETA], fedyogi[:ETA], fedadagrad[:ETA], fedmedian, fedtrimmedavg[:BETA], krum[:F], multikrum[:F,KEEP].")
    var strategy = "fedavg"
    @Option(name: .customLong("strategy-option"), help: "A strategy parameter by Flower's name, NAME=VALUE (tau=0.001, beta_2=0.99); repeat for several.")
    var strategyOption: [String] = []
    @Option(help: "Update encoding: float32, float16, int8 or topk:F.")
    var up = "float32"
    @Option(help: "Global-parameter encoding: float32, float16 or int8.")
    var down = "float32"
    @Flag(name: .customLong("no-error-feedback"), help: "Clients drop what a lossy encoding leaves out.")
    var noErrorFeedback = false
    @Option(name: .customLong("clip-norm"), help: "Clip each update to this L2 norm.")
    var clipNorm: Double?
    @Option(name: .customLong("norm-bound"), help: "The server refuses updates with a larger L2 norm.")
    var normBound: Double?
    @Option(help: "Share of malicious clients.")
    var byzantine = 0.0
    @Option(help: "What malicious clients send: scale:K or signflip.")
    var attack = "signflip"
    @Option(help: "Feature scaling: none, standard, minmax or divide:N (the digits recipe is divide:16).")
    var scale = "divide:16"
    @Option(help: "Seed of initialisation, selection and shuffling.")
    var seed: UInt64 = 1
    @Option(name: .customLong("init"), help: "Start from the parameters in this file (JSON written by --init-out).")
    var initFile: String?
    @Option(name: .customLong("init-out"), help: "Write the initial parameters to this JSON file.")
    var initOut: String?
    @Flag(name: .customLong("zero-init"), help: "Start from all-zero parameters (Flower's logreg recipe).")
    var zeroInit = false
    @Option(help: "Write the run (settings, rounds, summary) as JSON to this file.")
    var json: String?
    @Flag(help: "No per-round lines.")
    var quiet = false
    @Option(help: "Where the frames travel: inprocess, memory, mosquitto or HOST:PORT.")
    var network = "inprocess"
    @Option(help: "MQTT user name for --network HOST:PORT.")
    var username: String?
    @Option(name: .customLong("answer-timeout"), help: "Seconds the server waits for a round's updates over a network.")
    var answerTimeout = 600

    func run() async throws {
        var configuration = SimulationConfiguration(
            rounds: rounds, fraction: fraction, localEpochs: localEpochs, batchSize: batch, learningRate: lr,
            learningRateDecay: lrDecay, optimizer: localOptimizer, proximalMu: mu, upEncoding: try Self.encoding(up),
            downEncoding: try Self.encoding(down), errorFeedback: !noErrorFeedback, clipNorm: clipNorm,
            byzantineFraction: byzantine, attack: try ByzantineAttack(parsing: attack), seed: seed)
        configuration.normBound = normBound
        try configuration.validate()
        let aggregation = try Self.makeStrategy(strategy, options: strategyOption, mu: mu)
        let table = try LabeledData(readTable(data), label: label)
        var dataset = try FederatedSimulation.partition(
            table, split: try DataSplit.read(path: partition), features: FeatureRecipe(scaling: try .init(parsing: scale)))
        if let clients {
            guard clients >= 1, clients <= dataset.participants.count else {
                throw ValidationError("--clients must be between 1 and \(dataset.participants.count)")
            }
            dataset.participants = Array(dataset.participants.prefix(clients))
        }
        let graph = try initialGraph(dataset)
        if let initOut { try FileIO.writeAtomically(try ParameterFile(graph: graph).json(), to: initOut) }
        let simulation = try FederatedSimulation(
            graph: graph, participants: dataset.participants, test: dataset.test, configuration: configuration)
        if !quiet {
            Output.note(
                "\(dataset.participants.count) clients, \(ParameterLayout(graph: graph).count) parameters, "
                    + "\(aggregation.name), up \(up), down \(down)")
            Output.note(Self.line(["round", "test acc", "loss", "fed acc", "bytes", "s"]))
        }
        let quiet = quiet
        let report: @Sendable (SimulationRound) -> Void = { r in
            guard !quiet else { return }
            Output.note(
                Self.line([
                    "\(r.round)", Output.percent(r.testAccuracy), String(format: "%.4f", r.testLoss),
                    Output.percent(r.federatedAccuracy), Output.bytes(r.bytes), String(format: "%.2f", r.seconds),
                ]))
        }
        let result: SimulationResult
        var carried = "in process (frame bytes)"
        switch network {
        case "inprocess":
            result = try simulation.run(strategy: aggregation, progress: report)
        case "memory":
            carried = "in-memory broker (MQTT packet bytes)"
            result = try await simulation.run(
                strategy: aggregation, over: .inMemory(timeout: .seconds(answerTimeout)), progress: report)
        case "mosquitto":
            let broker = try PrivateBroker.start()
            defer { broker.stop() }
            carried = "Mosquitto on 127.0.0.1:\(broker.port) (MQTT packet bytes)"
            result = try await simulation.run(
                strategy: aggregation, over: mqttNetwork(host: "127.0.0.1", port: broker.port, username: nil),
                progress: report)
        default:
            let parts = network.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw ValidationError("--network must be inprocess, memory, mosquitto or HOST:PORT")
            }
            carried = "MQTT \(network) (MQTT packet bytes)"
            result = try await simulation.run(
                strategy: aggregation, over: mqttNetwork(host: String(parts[0]), port: port, username: username),
                progress: report)
        }
        let summary = Summary(result)
        print(
            Output.table(
                ["", "value"],
                [
                    ["final test accuracy", Output.percent(result.finalAccuracy)],
                    ["best test accuracy", Output.percent(result.bestAccuracy)],
                    ["first round >= 90 %", summary.firstRound90.map(String.init) ?? "-"],
                    ["first round >= 95 %", summary.firstRound95.map(String.init) ?? "-"],
                    ["bytes per round (mean)", Output.bytes(Int(result.meanBytesPerRound))],
                    ["bytes counted", carried],
                    ["updates refused (norm bound)", "\(result.rounds.map(\.refused).reduce(0, +))"],
                    ["seconds", String(format: "%.1f", summary.seconds)],
                ]))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let report = Report(
                settings: settings(), summary: summary, rounds: result.rounds)
            try FileIO.writeAtomically(Array(try encoder.encode(report)), to: json)
        }
    }

    /// Sessions with the broker at `host`:`port`, one per client id, as the devices open them.
    private func mqttNetwork(host: String, port: Int, username: String?) -> SimulationNetwork {
        let password = ProcessInfo.processInfo.environment["STARLING_MQTT_PASSWORD"]
        return SimulationNetwork(name: "MQTT \(host):\(port)", timeout: .seconds(answerTimeout)) { id throws(TransportError) in
            let transport = try MQTTTransport(
                configuration: MQTTTransport.Configuration(
                    host: host, port: port, clientID: id, username: username, password: password, cleanStart: true,
                    sessionExpiry: .zero))
            try await transport.connect()
            return transport
        }
    }

    private func initialGraph(_ dataset: FederatedSimulation.Dataset) throws -> Graph {
        let architecture = model == "mlp" ? Architecture.mlp(hidden: [64]) : try Architecture(parsing: model)
        var graph = try ModelBuilder.build(
            architecture, inputShape: [dataset.inputWidth], outputs: dataset.classes.count, seed: seed)
        if let initFile {
            try ParameterFile(json: try FileIO.read(initFile)).apply(to: &graph)
        } else if zeroInit {
            let layout = ParameterLayout(graph: graph)
            try layout.apply([Float](repeating: 0, count: layout.count), to: &graph)
        }
        return graph
    }

    /// The aggregation strategy `spec` names, with `options` (Flower's parameter names) on top:
    /// `fedavg`, `fedprox`, `fedavgm[:SERVER_LR,MOMENTUM]`, `fedadam[:ETA]`, `fedyogi[:ETA]`,
    /// `fedadagrad[:ETA]`, `fedmedian`, `fedtrimmedavg[:BETA]`, `krum[:F]`, `multikrum[:F,KEEP]`.
    static func makeStrategy(_ spec: String, options: [String] = [], mu: Double = 0) throws -> any AggregationStrategy {
        let parts = spec.split(separator: ":", maxSplits: 1)
        let args = parts.count > 1 ? parts[1].split(separator: ",").map { Double($0) } : []
        guard args.allSatisfy({ $0 != nil }) else { throw ValidationError("--strategy: bad numbers in '\(spec)'") }
        let a = args.map { $0! }
        let name = String(parts.first ?? "")
        var configuration = StrategyConfiguration(name: name)
        let positional: [WritableKeyPath<StrategyConfiguration, Double?>] =
            switch name {
            case "fedavgm": [\.serverLearningRate, \.serverMomentum]
            case "fedadam", "fedyogi", "fedadagrad": [\.eta]
            case "fedtrimmedavg": [\.beta]
            default: []
            }
        let integers: [WritableKeyPath<StrategyConfiguration, Int?>] =
            switch name {
            case "krum": [\.numMaliciousClients]
            case "multikrum": [\.numMaliciousClients, \.numClientsToKeep]
            default: []
            }
        guard a.count <= positional.count + integers.count else {
            throw ValidationError("--strategy '\(spec)' has too many numbers")
        }
        for (value, key) in zip(a, positional) { configuration[keyPath: key] = value }
        for (value, key) in zip(a, integers) { configuration[keyPath: key] = Int(value) }
        if name == "fedprox" { configuration.proximalMu = mu }
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration)) as? [String: Any] ?? [:]
        for option in options {
            let pair = option.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, let value = Double(pair[1]) else {
                throw ValidationError("--strategy-option '\(option)' must be NAME=NUMBER")
            }
            object[String(pair[0])] = value
        }
        let merged = try JSONDecoder().decode(
            StrategyConfiguration.self, from: try JSONSerialization.data(withJSONObject: object))
        do {
            return try merged.makeStrategy()
        } catch {
            throw ValidationError("--strategy '\(spec)': \(error.message)")
        }
    }

    /// One progress line, right-aligned in fixed columns.
    static func line(_ cells: [String]) -> String {
        zip(cells, [5, 9, 8, 9, 11, 7]).map { cell, width in
            String(repeating: " ", count: max(0, width - cell.count)) + cell
        }.joined(separator: "  ")
    }

    /// The encoding `text` names (`topk:F` carries its fraction).
    static func encoding(_ text: String) throws -> UpdateEncoding {
        if text.hasPrefix("topk:") {
            guard let f = Double(text.dropFirst(5)) else { throw ValidationError("topk needs a fraction, e.g. topk:0.1") }
            return try UpdateEncoding(name: "topk", fraction: f)
        }
        return try UpdateEncoding(name: text)
    }

    private func settings() -> [String: String] {
        [
            "data": data, "partition": partition, "clients": clients.map(String.init) ?? "all",
            "fraction": "\(fraction)", "rounds": "\(rounds)", "model": model, "localEpochs": "\(localEpochs)",
            "lr": "\(lr)", "lrDecay": "\(lrDecay)", "batch": "\(batch)", "localOptimizer": localOptimizer, "mu": "\(mu)",
            "strategy": strategy, "up": up, "down": down, "errorFeedback": "\(!noErrorFeedback)",
            "clipNorm": clipNorm.map { "\($0)" } ?? "none", "byzantine": "\(byzantine)", "attack": attack, "scale": scale,
            "seed": "\(seed)", "init": initFile ?? (zeroInit ? "zeros" : "glorot"), "network": network,
        ]
    }

    /// What --json writes next to the rounds.
    struct Summary: Encodable {
        var finalAccuracy: Float?
        var bestAccuracy: Float?
        var firstRound90: Int?
        var firstRound95: Int?
        var meanBytesPerRound: Double
        var seconds: Double

        init(_ r: SimulationResult) {
            finalAccuracy = r.finalAccuracy
            bestAccuracy = r.bestAccuracy
            firstRound90 = r.firstRound(reaching: 0.9)
            firstRound95 = r.firstRound(reaching: 0.95)
            meanBytesPerRound = r.meanBytesPerRound
            seconds = r.rounds.reduce(0) { $0 + $1.seconds }
        }
    }

    struct Report: Encodable {
        var settings: [String: String]
        var summary: Summary
        var rounds: [SimulationRound]
    }
}

/// A Mosquitto of the run's own: loopback, a free port, anonymous, no persistence; removed at
/// the end.
struct PrivateBroker {
    let process: MosquittoProcess
    let directory: String
    var port: Int { process.port }

    static func start() throws -> PrivateBroker {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "starling-sim-broker-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            let port = try MosquittoProcess.freePort()
            let configuration = MosquittoConfiguration(
                listeners: [.loopback(port: port)], allowAnonymous: true, persistenceLocation: nil,
                logTypes: ["error", "warning"], user: ProcessInfo.processInfo.userName)
            let file = directory + "/mosquitto.conf"
            try configuration.render().write(toFile: file, atomically: true, encoding: .utf8)
            let process = try MosquittoProcess.start(configFile: file, port: port, logFile: directory + "/mosquitto.log")
            return PrivateBroker(process: process, directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
