/// How a malicious simulated client corrupts its update: it trains honestly, then replaces its
/// delta before encoding, so the server sees a well-formed, correctly signed update.
public enum ByzantineAttack: Sendable, Equatable, CustomStringConvertible {
    /// The delta multiplied by `factor` (a large factor drags the average; −1 reverses it).
    case scale(Float)
    /// The delta negated (gradient ascent on the client's data).
    case signFlip

    /// Parses `scale:K` or `signflip`.
    public init(parsing text: String) throws(FederationError) {
        if text == "signflip" {
            self = .signFlip
        } else if text.hasPrefix("scale:"), let k = Float(text.dropFirst(6)), k.isFinite {
            self = .scale(k)
        } else {
            throw FederationError(.invalidArgument, "unknown attack '\(text)'; use scale:K or signflip")
        }
    }

    /// The corrupted delta.
    public func apply(to delta: [Float]) -> [Float] {
        switch self {
        case .scale(let k): delta.map { $0 * k }
        case .signFlip: delta.map { -$0 }
        }
    }

    /// `scale:K` or `signflip`.
    public var description: String {
        switch self {
        case .scale(let k): "scale:\(k)"
        case .signFlip: "signflip"
        }
    }
}
