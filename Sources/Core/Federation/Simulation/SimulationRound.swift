/// What one simulated round measured.
public struct SimulationRound: Codable, Sendable, Equatable {
    /// 1-based round number.
    public var round: Int
    /// Clients that were sent the task.
    public var clients: Int
    /// Of those, how many were malicious.
    public var byzantine: Int
    /// Updates the server refused (norm bound, ...).
    public var refused: Int = 0
    /// The new global's accuracy on the held-out test rows (centralized evaluation).
    public var testAccuracy: Float?
    /// The new global's mean loss on the test rows.
    public var testLoss: Float
    /// Federated evaluation: the accuracy of the round's starting global on the clients' own data,
    /// pooled from the update headers (correct / examples).
    public var federatedAccuracy: Float?
    /// Federated evaluation: the example-weighted mean loss from the update headers.
    public var federatedLoss: Float?
    /// The example-weighted mean of the clients' last-epoch training loss.
    public var trainLoss: Float?
    /// Bytes of the task frames sent to the clients (one frame per client).
    public var bytesDown: Int
    /// Bytes of the update frames the clients sent back.
    public var bytesUp: Int
    /// The local learning rate the round's task carried.
    public var learningRate: Double
    /// Wall time of the round, in seconds (training, coding, aggregation and evaluation).
    public var seconds: Double

    /// Bytes both ways.
    public var bytes: Int { bytesDown + bytesUp }
}

/// A whole simulation's outcome.
public struct SimulationResult: Codable, Sendable, Equatable {
    /// One record per round.
    public var rounds: [SimulationRound]
    /// The final global parameters, in layout order.
    public var parameters: [Float]

    /// The last round's test accuracy.
    public var finalAccuracy: Float? { rounds.last?.testAccuracy }
    /// The best test accuracy of any round.
    public var bestAccuracy: Float? { rounds.compactMap(\.testAccuracy).max() }
    /// The mean bytes per round, both directions.
    public var meanBytesPerRound: Double {
        rounds.isEmpty ? 0 : Double(rounds.reduce(0) { $0 + $1.bytes }) / Double(rounds.count)
    }

    /// The first round whose test accuracy reached `target`, if any.
    public func firstRound(reaching target: Float) -> Int? {
        rounds.first { ($0.testAccuracy ?? 0) >= target }?.round
    }
}
