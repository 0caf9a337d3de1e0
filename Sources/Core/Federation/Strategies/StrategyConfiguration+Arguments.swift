/// Command-line flags for a strategy configuration: `--strategy NAME` and one flag per
/// parameter, the JSON key with dashes (`--server-learning-rate`, `--eta-l`, `--beta-1`, ...),
/// plus the short forms `--server-lr` and `--mu`. Privacy: `--dp fixed|adaptive` and the DP keys
/// with dashes (`--noise-multiplier`, `--clipping-norm`, `--num-sampled-clients`, ...).
extension StrategyConfiguration {
    /// Every flag `init(arguments:)` reads (each takes a value).
    public static let flags: Set<String> = Set(
        [
            "--strategy", "--server-lr", "--mu", "--dp", "--dp-seed",
        ] + doubleKeys.map(\.0) + intKeys.map(\.0) + privacyDoubleKeys.map(\.0)
            + ["--noise-multiplier", "--num-sampled-clients", "--norm-bit"])

    private static var doubleKeys: [(String, WritableKeyPath<StrategyConfiguration, Double?>)] {
        [
            ("--proximal-mu", \.proximalMu), ("--server-learning-rate", \.serverLearningRate),
            ("--server-momentum", \.serverMomentum), ("--eta", \.eta), ("--eta-l", \.etaL), ("--beta-1", \.beta1),
            ("--beta-2", \.beta2), ("--tau", \.tau), ("--beta", \.beta), ("--direction", \.direction),
        ]
    }
    private static var intKeys: [(String, WritableKeyPath<StrategyConfiguration, Int?>)] {
        [
            ("--num-malicious-clients", \.numMaliciousClients), ("--num-clients-to-keep", \.numClientsToKeep),
            ("--mixing", \.mixing),
        ]
    }
    private static var privacyDoubleKeys: [(String, WritableKeyPath<PrivacyConfiguration, Double?>)] {
        [
            ("--clipping-norm", \.clippingNorm), ("--initial-clipping-norm", \.initialClippingNorm),
            ("--target-clipped-quantile", \.targetClippedQuantile), ("--clip-norm-lr", \.clipNormLR),
            ("--clipped-count-stddev", \.clippedCountStddev),
        ]
    }

    /// Parses `arguments`, pairs of a flag from `flags` and its value; `--strategy` is required.
    public init(arguments: [String]) throws(FederationError) {
        var values: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            let flag = arguments[i]
            guard Self.flags.contains(flag) else { throw FederationError(.invalidArgument, "unknown strategy flag \(flag)") }
            guard i + 1 < arguments.count else { throw FederationError(.invalidArgument, "\(flag) needs a value") }
            values[flag == "--server-lr" ? "--server-learning-rate" : flag == "--mu" ? "--proximal-mu" : flag] = arguments[i + 1]
            i += 2
        }
        guard let name = values["--strategy"] else { throw FederationError(.invalidArgument, "--strategy is required") }
        self.init(name: name)
        for (flag, key) in Self.doubleKeys { if let v = values[flag] { self[keyPath: key] = try Self.number(v, flag) } }
        for (flag, key) in Self.intKeys { if let v = values[flag] { self[keyPath: key] = try Self.integer(v, flag) } }
        let privacyFlags =
            Self.privacyDoubleKeys.map(\.0) + ["--noise-multiplier", "--num-sampled-clients", "--norm-bit", "--dp-seed"]
        guard let mode = values["--dp"] else {
            if let flag = privacyFlags.first(where: { values[$0] != nil }) {
                throw FederationError(.invalidArgument, "\(flag) needs --dp fixed or --dp adaptive")
            }
            return
        }
        guard let clipping = PrivacyConfiguration.Clipping(rawValue: mode) else {
            throw FederationError(.invalidArgument, "--dp must be fixed or adaptive, got \(mode)")
        }
        guard let z = values["--noise-multiplier"], let m = values["--num-sampled-clients"] else {
            throw FederationError(.invalidArgument, "--dp needs --noise-multiplier and --num-sampled-clients")
        }
        var privacy = PrivacyConfiguration(
            clipping: clipping, noiseMultiplier: try Self.number(z, "--noise-multiplier"),
            numSampledClients: try Self.integer(m, "--num-sampled-clients"))
        for (flag, key) in Self.privacyDoubleKeys { if let v = values[flag] { privacy[keyPath: key] = try Self.number(v, flag) } }
        if let bit = values["--norm-bit"] {
            guard let b = AdaptiveClippingDP.NormBit(rawValue: bit) else {
                throw FederationError(.invalidArgument, "--norm-bit must be unclipped or clipped, got \(bit)")
            }
            privacy.normBit = b
        }
        if let seed = values["--dp-seed"] {
            guard let s = UInt64(seed) else { throw FederationError(.invalidArgument, "--dp-seed must be an unsigned integer") }
            privacy.seed = s
        }
        self.privacy = privacy
    }

    private static func number(_ text: String, _ flag: String) throws(FederationError) -> Double {
        guard let v = Double(text), v.isFinite else {
            throw FederationError(.invalidArgument, "\(flag) must be a number, got \(text)")
        }
        return v
    }

    private static func integer(_ text: String, _ flag: String) throws(FederationError) -> Int {
        guard let v = Int(text) else { throw FederationError(.invalidArgument, "\(flag) must be an integer, got \(text)") }
        return v
    }
}
