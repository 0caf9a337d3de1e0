/// A strategy and its parameters as the hub persists them (JSON with Flower's parameter names)
/// and the CLI writes them (`--strategy fedadam --eta 0.01`). Unset parameters take the
/// strategy's Flower defaults; a parameter the strategy does not have is refused by name.
public struct StrategyConfiguration: Codable, Sendable, Equatable {
    /// The strategies by name.
    public static let names = [
        "fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "fedmedian", "fedtrimmedavg", "krum", "multikrum",
    ]

    /// One of `names`.
    public var name: String
    /// FedProx's `proximal_mu`.
    public var proximalMu: Double?
    /// FedAvgM's `server_learning_rate`.
    public var serverLearningRate: Double?
    /// FedAvgM's `server_momentum`.
    public var serverMomentum: Double?
    /// FedAdam / FedYogi / FedAdagrad `eta`.
    public var eta: Double?
    /// FedAdam / FedYogi / FedAdagrad `eta_l`.
    public var etaL: Double?
    /// FedAdam / FedYogi `beta_1`.
    public var beta1: Double?
    /// FedAdam / FedYogi `beta_2`.
    public var beta2: Double?
    /// FedAdam / FedYogi / FedAdagrad `tau`.
    public var tau: Double?
    /// FedTrimmedAvg's `beta`.
    public var beta: Double?
    /// Krum's `num_malicious_clients`.
    public var numMaliciousClients: Int?
    /// Multi-Krum's `num_clients_to_keep`.
    public var numClientsToKeep: Int?
    /// Nearest-neighbour mixing before FedMedian, FedTrimmedAvg, Krum or Multi-Krum, against this
    /// many malicious clients (`mixing`; a Starling extension, not a Flower parameter).
    public var mixing: Int?
    /// The direction check before FedMedian, FedTrimmedAvg, Krum or Multi-Krum: updates whose
    /// cosine similarity with the previous round's step is at most this are left out
    /// (`direction`; a Starling extension, not a Flower parameter).
    public var direction: Double?
    /// Central differential privacy around the strategy, if any.
    public var privacy: PrivacyConfiguration?

    enum CodingKeys: String, CodingKey {
        case name, proximalMu = "proximal_mu", serverLearningRate = "server_learning_rate"
        case serverMomentum = "server_momentum", eta, etaL = "eta_l", beta1 = "beta_1", beta2 = "beta_2", tau, beta
        case numMaliciousClients = "num_malicious_clients", numClientsToKeep = "num_clients_to_keep", mixing, direction, privacy
    }

    /// The strategy `name` with default parameters.
    public init(name: String) { self.name = name }

    /// The configured strategy, wrapped in differential privacy when `privacy` is set.
    public func makeStrategy() throws(FederationError) -> any AggregationStrategy {
        let strategy = try makeBase()
        return try privacy?.wrap(strategy) ?? strategy
    }

    private func makeBase() throws(FederationError) -> any AggregationStrategy {
        switch name {
        case "fedavg":
            try allow([])
            return FedAvg()
        case "fedprox":
            try allow(["proximal_mu"])
            guard let proximalMu else { throw FederationError(.invalidArgument, "fedprox needs proximal_mu") }
            return try FedProx(mu: proximalMu)
        case "fedavgm":
            try allow(["server_learning_rate", "server_momentum"])
            return try FedAvgM(serverLearningRate: serverLearningRate ?? 1, serverMomentum: serverMomentum ?? 0)
        case "fedadam":
            try allow(["eta", "eta_l", "beta_1", "beta_2", "tau"])
            return try FedAdam(eta: eta ?? 1e-1, etaL: etaL ?? 1e-1, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.99, tau: tau ?? 1e-9)
        case "fedyogi":
            try allow(["eta", "eta_l", "beta_1", "beta_2", "tau"])
            return try FedYogi(
                eta: eta ?? 1e-2, etaL: etaL ?? 0.0316, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.99, tau: tau ?? 1e-3)
        case "fedadagrad":
            try allow(["eta", "eta_l", "tau"])
            return try FedAdagrad(eta: eta ?? 1e-1, etaL: etaL ?? 1e-1, tau: tau ?? 1e-9)
        case "fedmedian":
            try allow(["mixing", "direction"])
            return try FedMedian(mixing: mixing ?? 0, direction: direction)
        case "fedtrimmedavg":
            try allow(["beta", "mixing", "direction"])
            return try FedTrimmedAvg(beta: beta ?? 0.2, mixing: mixing ?? 0, direction: direction)
        case "krum":
            try allow(["num_malicious_clients", "num_clients_to_keep", "mixing", "direction"])
            guard (numClientsToKeep ?? 0) == 0 else {
                throw FederationError(.invalidArgument, "krum keeps one update; use multikrum for num_clients_to_keep > 0")
            }
            return try Krum(numMaliciousClients: numMaliciousClients ?? 0, mixing: mixing ?? 0, direction: direction)
        case "multikrum":
            try allow(["num_malicious_clients", "num_clients_to_keep", "mixing", "direction"])
            guard let keep = numClientsToKeep, keep > 0 else {
                throw FederationError(.invalidArgument, "multikrum needs num_clients_to_keep > 0")
            }
            return try Krum(
                numMaliciousClients: numMaliciousClients ?? 0, numClientsToKeep: keep, mixing: mixing ?? 0, direction: direction)
        default:
            throw FederationError(
                .invalidArgument, "unknown strategy \(name); known: \(Self.names.joined(separator: ", "))")
        }
    }

    /// The parameters that are set, by JSON key.
    var setKeys: [String] {
        let all: [(String, Bool)] = [
            ("proximal_mu", proximalMu != nil), ("server_learning_rate", serverLearningRate != nil),
            ("server_momentum", serverMomentum != nil), ("eta", eta != nil), ("eta_l", etaL != nil),
            ("beta_1", beta1 != nil), ("beta_2", beta2 != nil), ("tau", tau != nil), ("beta", beta != nil),
            ("num_malicious_clients", numMaliciousClients != nil), ("num_clients_to_keep", numClientsToKeep != nil),
            ("mixing", mixing != nil), ("direction", direction != nil),
        ]
        return all.filter(\.1).map(\.0)
    }

    private func allow(_ keys: Set<String>) throws(FederationError) {
        if let extra = setKeys.first(where: { !keys.contains($0) }) {
            throw FederationError(.invalidArgument, "\(extra) is not a parameter of \(name)")
        }
    }
}
