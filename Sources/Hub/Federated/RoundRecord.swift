import Core

/// How a round stands.
public enum RoundStatus: String, Sendable, Codable, CaseIterable {
    /// Iterations are running.
    case running
    /// Every iteration closed and the result is registered.
    case completed
    /// It stopped on an error (too few clients, a failed registration); see the message.
    case failed
    /// An operator cancelled it.
    case cancelled
}

/// What one closed iteration did.
public struct IterationSummary: Sendable, Equatable, Codable {
    /// 1-based.
    public var number: Int
    /// `fit` or `evaluate`.
    public var kind: String
    /// Devices asked.
    public var selected: Int
    /// Devices whose update was accepted.
    public var participants: [String]
    /// The federated evaluation of the global the iteration started from.
    public var accuracy: Double?
    /// Its example-weighted loss.
    public var loss: Double?
    /// Examples it was evaluated on.
    public var evalExamples: Int
    /// Example-weighted last-epoch training loss.
    public var trainLoss: Double?
    /// Task bytes sent (frame size × devices asked).
    public var bytesDown: Int
    /// Update payload bytes received.
    public var bytesUp: Int
    /// Updates refused during the iteration, by reason.
    public var rejected: [String: Int]
    /// Wall time from opening to closing, ms.
    public var millis: Int64
    /// With central DP: the privacy spent by the round so far, ε at `delta` (RDP accountant,
    /// subsampled Gaussian with the round's noise multiplier and sampling fraction).
    public var epsilon: Double?
    /// The δ that `epsilon` is stated at.
    public var delta: Double?
}

/// A stored round.
public struct RoundRecord: Sendable, Equatable, Codable {
    /// Its id.
    public var id: String
    /// The model.
    public var model: String
    /// The version it started from.
    public var baseVersion: String
    /// The resolved label selector.
    public var selector: String
    /// The request as accepted (defaults filled in).
    public var request: RoundRequest
    /// Where it stands.
    public var status: RoundStatus
    /// Iterations closed.
    public var iterations: Int
    /// One summary per closed iteration.
    public var history: [IterationSummary]
    /// The version registered from the result, once completed.
    public var resultVersion: String?
    /// Why it failed or was cancelled.
    public var message: String?
    /// When it was created, ms since the epoch.
    public var createdAt: Int64
    /// Who started it.
    public var createdBy: String
    /// When it last changed.
    public var updatedAt: Int64
}

extension RoundRecord {
    /// The record as the API shows it: without the DP noise seed (knowing it would let anyone
    /// subtract the noise).
    public var redacted: RoundRecord {
        var copy = self
        copy.request.privacy?.seed = nil
        return copy
    }
}
