/// The settings of a federated simulation: who trains each round, how, and how updates travel.
/// Defaults are Flower's digits recipe (all clients, 2 local epochs of plain SGD, lr 0.1,
/// batch 32, float32 both ways).
public struct SimulationConfiguration: Sendable, Equatable {
    /// Rounds to run.
    public var rounds: Int
    /// The share of clients sent the task each round (at least one client).
    public var fraction: Double
    /// Local passes over each client's data per round.
    public var localEpochs: Int
    /// Examples per local step.
    public var batchSize: Int
    /// The local step size in round 1.
    public var learningRate: Double
    /// The local learning rate is multiplied by this after each round (1: constant).
    public var learningRateDecay: Double
    /// The local optimizer (`sgd` or `adam`), as the task names it.
    public var optimizer: String
    /// FedProx proximal weight μ (0: plain local training).
    public var proximalMu: Double
    /// How clients encode their updates.
    public var upEncoding: UpdateEncoding
    /// How the server encodes the global parameters it sends.
    public var downEncoding: UpdateEncoding
    /// Clients keep error-feedback residuals for lossy up-encodings.
    public var errorFeedback: Bool
    /// Clients clip their update to this L2 norm before encoding (nil: no clipping).
    public var clipNorm: Double?
    /// The server refuses updates whose L2 norm is above this; nil: no bound.
    public var normBound: Double?
    /// The share of clients that are malicious (chosen once, by the seed).
    public var byzantineFraction: Double
    /// What the malicious clients do.
    public var attack: ByzantineAttack
    /// Seeds client selection, the malicious set and every client's shuffling.
    public var seed: UInt64

    /// A configuration; the defaults are Flower's digits recipe.
    public init(
        rounds: Int = 30, fraction: Double = 1, localEpochs: Int = 2, batchSize: Int = 32, learningRate: Double = 0.1,
        learningRateDecay: Double = 1, optimizer: String = "sgd", proximalMu: Double = 0,
        upEncoding: UpdateEncoding = .float32, downEncoding: UpdateEncoding = .float32, errorFeedback: Bool = true,
        clipNorm: Double? = nil, byzantineFraction: Double = 0, attack: ByzantineAttack = .signFlip, seed: UInt64 = 1
    ) {
        self.rounds = rounds
        self.fraction = fraction
        self.localEpochs = localEpochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.learningRateDecay = learningRateDecay
        self.optimizer = optimizer
        self.proximalMu = proximalMu
        self.upEncoding = upEncoding
        self.downEncoding = downEncoding
        self.errorFeedback = errorFeedback
        self.clipNorm = clipNorm
        self.byzantineFraction = byzantineFraction
        self.attack = attack
        self.seed = seed
    }

    /// Checks every setting; the error names the first one out of range.
    public func validate() throws(FederationError) {
        func check(_ ok: Bool, _ message: String) throws(FederationError) {
            guard ok else { throw FederationError(.invalidArgument, message) }
        }
        try check(rounds >= 1, "rounds must be at least 1")
        try check(fraction > 0 && fraction <= 1, "the client fraction must be in (0, 1]")
        try check(localEpochs >= 1, "local epochs must be at least 1")
        try check(batchSize >= 1, "the batch size must be at least 1")
        try check(learningRate > 0 && learningRate.isFinite, "the learning rate must be positive")
        try check(learningRateDecay > 0 && learningRateDecay <= 1, "the learning-rate decay must be in (0, 1]")
        try check(["sgd", "adam"].contains(optimizer), "the local optimizer is sgd or adam")
        try check(proximalMu >= 0 && proximalMu.isFinite, "the proximal mu must be at least 0")
        try check(clipNorm.map { $0 > 0 && $0.isFinite } ?? true, "the clip norm must be positive")
        try check(normBound.map { $0 > 0 && $0.isFinite } ?? true, "the norm bound must be positive")
        try check(byzantineFraction >= 0 && byzantineFraction < 1, "the Byzantine fraction must be in [0, 1)")
        if case .topK = downEncoding {
            throw FederationError(.invalidArgument, "the global parameters cannot be sent top-k (use float32, float16 or int8)")
        }
    }

    /// The seed of client `client`'s shuffling in round `round` (1-based):
    /// `(seed << 32) ^ (round << 16) ^ client`. The Flower reference script mirrors it.
    public static func trainingSeed(seed: UInt64, round: Int, client: Int) -> UInt64 {
        (seed << 32) ^ (UInt64(round) << 16) ^ UInt64(client)
    }
}
