import Core
import Foundation

/// A federated round as an operator asks for it (`starling round start`, `POST /api/v1/rounds`):
/// everything as written, checked by `RoundRunner.start`.
public struct RoundRequest: Sendable, Equatable, Codable {
    /// The model.
    public var model: String
    /// The registered version to start from; by default the `production` alias, else the latest.
    public var fromVersion: String?
    /// A label selector, or `group:NAME` (default: every enrolled device).
    public var select: String?
    /// Iterations (Flower's "rounds"); the result is registered after the last.
    public var rounds: Int?
    /// Fewest accepted updates for an iteration to aggregate at its deadline.
    public var minClients: Int?
    /// Share of the eligible devices asked each iteration (at least `minClients`).
    public var fraction: Double?
    /// How long each iteration waits for updates, `5m`, `30s`.
    public var deadline: String?
    /// The strategy: `fedavg`, `fedprox`, ... (see `StrategyFactory`).
    public var strategy: String?
    /// The strategy's parameters by Flower's names (`server_learning_rate`, `server_momentum`,
    /// `eta`, `beta`, `num_malicious_clients`, ...).
    public var strategyOptions: [String: Double]?
    /// Central differential privacy around the strategy (fixed or adaptive clipping, noise).
    public var privacy: PrivacyConfiguration?
    /// Local epochs per iteration.
    public var localEpochs: Int?
    /// Local batch size.
    public var batchSize: Int?
    /// Local learning rate.
    public var lr: Double?
    /// Local optimizer, `sgd` or `adam`.
    public var optimizer: String?
    /// FedProx μ for local training.
    public var mu: Double?
    /// Clients clip their delta to this L2 norm.
    public var clipNorm: Double?
    /// The hub refuses updates with a larger L2 norm.
    public var normBound: Double?
    /// How clients encode updates: `float32`, `float16`, `int8`, `topk`.
    public var encoding: String?
    /// Fraction kept by `topk`.
    public var topK: Double?
    /// How the global travels to clients: `float32`, `float16`, `int8`.
    public var downEncoding: String?
    /// Clients with fewer labelled examples skip.
    public var minExamples: Int?
    /// The longest a client may train per iteration, seconds.
    public var maxTrainingSeconds: Int?
    /// The version to register the result as (default: the next minor after the base).
    public var version: String?
    /// `dynamic` (int8 weights, the default) or `none` (float).
    public var quantize: String?
    /// Ask the participants to evaluate the final global on their data before registering (default true).
    public var evaluate: Bool?

    /// A request for `model`; everything else takes its default.
    public init(model: String) {
        self.model = model
    }

    /// Defaults for what a request leaves out.
    public enum Defaults {
        /// Iterations.
        public static let rounds = 1
        /// Fewest clients.
        public static let minClients = 2
        /// Share asked.
        public static let fraction = 1.0
        /// Iteration deadline.
        public static let deadline = "5m"
        /// Strategy.
        public static let strategy = "fedavg"
    }

    /// The clients' settings the request describes (validated).
    public func settings() throws(RoundError) -> RoundSettings {
        let s = RoundSettings(
            localEpochs: localEpochs ?? 2, batchSize: batchSize ?? 32, learningRate: lr ?? 0.1, optimizer: optimizer ?? "sgd",
            proximalMu: mu ?? strategyOptions?["proximal_mu"], clipNorm: clipNorm, upEncoding: encoding ?? "float32", topKFraction: topK,
            downEncoding: downEncoding ?? "float32", minExamples: minExamples ?? 1, maxTrainingSeconds: maxTrainingSeconds,
            normBound: normBound)
        do {
            try s.validate()
        } catch {
            throw RoundError(.invalidRequest, error.message)
        }
        return s
    }

    /// The iteration deadline in milliseconds.
    public func deadlineMillis() throws(RoundError) -> Int64 {
        let text = deadline ?? Defaults.deadline
        guard let millis = Self.parseDuration(text), millis >= 1000, millis <= 7 * 86_400_000 else {
            throw RoundError(.invalidRequest, "the deadline '\(text)' must be a duration from 1s to 7d, like 30s, 5m or 2h")
        }
        return millis
    }

    /// Checks counts and ranges that `settings()` does not.
    public func validate() throws(RoundError) {
        _ = try settings()
        _ = try deadlineMillis()
        let rounds = rounds ?? Defaults.rounds
        guard (1...10_000).contains(rounds) else { throw RoundError(.invalidRequest, "rounds must be 1...10000") }
        let minClients = minClients ?? Defaults.minClients
        guard (1...100_000).contains(minClients) else { throw RoundError(.invalidRequest, "min clients must be 1...100000") }
        let fraction = fraction ?? Defaults.fraction
        guard fraction > 0, fraction <= 1 else { throw RoundError(.invalidRequest, "the fraction must be in (0, 1]") }
        guard ["dynamic", "none"].contains(quantize ?? "dynamic") else {
            throw RoundError(.invalidRequest, "quantize must be dynamic or none")
        }
        if let version, SemanticVersion(version) == nil {
            throw RoundError(.invalidRequest, "version '\(version)' is not a semantic version like 1.3.0")
        }
        _ = try StrategyFactory.make(strategy ?? Defaults.strategy, options: strategyOptions ?? [:], mu: mu, privacy: privacy)
    }

    /// `30s`, `5m`, `2h`, `1d` or plain milliseconds, in milliseconds.
    static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return Int64((value * Double(scale)).rounded())
        }
        return Int64(text)
    }
}

/// Builds aggregation strategies from their names and parameters, for requests and for resuming
/// a stored round: Core's `StrategyConfiguration` with Flower's parameter names.
public enum StrategyFactory {
    /// The configuration for strategy `name` with `options` (Flower's names: `server_learning_rate`,
    /// `eta`, `beta`, ...), `mu` (the request's FedProx μ) and central DP `privacy`.
    public static func configuration(
        _ name: String, options: [String: Double], mu: Double?, privacy: PrivacyConfiguration? = nil
    ) throws(RoundError) -> StrategyConfiguration {
        var object: [String: Any] = ["name": name]
        for (key, value) in options {
            object[key] = ["num_malicious_clients", "num_clients_to_keep", "mixing"].contains(key) ? Int(value) as Any : value
        }
        if name == "fedprox", object["proximal_mu"] == nil, let mu { object["proximal_mu"] = mu }
        var configuration: StrategyConfiguration
        do {
            let data = try JSONSerialization.data(withJSONObject: object)
            configuration = try JSONDecoder().decode(StrategyConfiguration.self, from: data)
        } catch {
            throw RoundError(.invalidRequest, "the strategy options do not parse: \(error)")
        }
        configuration.privacy = privacy
        return configuration
    }

    /// The strategy `name` with `options`; `mu` is the request's FedProx μ.
    public static func make(
        _ name: String, options: [String: Double], mu: Double?, privacy: PrivacyConfiguration? = nil
    ) throws(RoundError) -> any AggregationStrategy {
        let configuration = try configuration(name, options: options, mu: mu, privacy: privacy)
        do {
            return try configuration.makeStrategy()
        } catch {
            throw RoundError(.invalidRequest, error.message)
        }
    }
}
