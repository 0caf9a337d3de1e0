import Core

/// Delays between reconnection attempts: exponential from `minimum` to `maximum`, with jitter so
/// that a fleet cut off by the same outage does not reconnect in lock step.
public struct ReconnectBackoff: Sendable, Equatable {
    /// Delay before the first retry (before jitter).
    public var minimum: Duration
    /// Longest delay (before jitter).
    public var maximum: Duration
    /// Fraction of each delay that is random, 0...1: 0.5 waits between half and all of it.
    public var jitter: Double

    /// Backoff from `minimum` doubling up to `maximum`, each delay shortened by up to `jitter`.
    public init(minimum: Duration = .milliseconds(500), maximum: Duration = .seconds(30), jitter: Double = 0.5) {
        self.minimum = minimum
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay after `failures` consecutive failed attempts (1 for the first), with `random`
    /// in 0..<1 choosing where in the jitter band it falls.
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        let exponent = Swift.min(Swift.max(failures - 1, 0), 30)
        let base = Swift.min(seconds(minimum) * Double(1 << exponent), seconds(maximum))
        let factor = 1 - jitter * Swift.min(Swift.max(random, 0), 1)
        return .nanoseconds(Int64(base * factor * 1e9))
    }

    /// The delay after `failures` consecutive failed attempts, jittered with the system random
    /// generator.
    public func delay(afterFailures failures: Int) -> Duration {
        delay(afterFailures: failures, random: Double.random(in: 0..<1))
    }

    func validate() throws(TransportError) {
        guard minimum > .zero, maximum >= minimum else {
            throw TransportError(.protocolError, "MQTT configuration 'reconnect': needs 0 < minimum <= maximum")
        }
        guard (0...1).contains(jitter) else {
            throw TransportError(.protocolError, "MQTT configuration 'reconnect.jitter': must be 0...1, got \(jitter)")
        }
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// How the transport buffers received messages for a slow consumer.
///
/// Messages are never dropped while someone may still read them. When `messages` or `bytes` are
/// buffered, the network thread stops reading (TCP then pushes back on the broker, which queues
/// within its own limits) until the consumer catches up — but for at most `maxStall` per episode:
/// the network thread also carries this client's acknowledgements and keep-alives, and a consumer
/// that itself waits on a `publish` would otherwise deadlock. After `maxStall` the buffer grows
/// past the limit until it has drained to half of it.
public struct InboundBufferPolicy: Sendable, Equatable {
    /// Buffered messages at which the network thread pauses.
    public var messages: Int
    /// Buffered payload bytes at which the network thread pauses.
    public var bytes: Int
    /// Longest pause per episode before the buffer grows instead.
    public var maxStall: Duration

    /// A policy; the defaults pause at 10,000 messages or 64 MiB for up to 5 seconds.
    public init(messages: Int = 10_000, bytes: Int = 64 << 20, maxStall: Duration = .seconds(5)) {
        self.messages = messages
        self.bytes = bytes
        self.maxStall = maxStall
    }

    func validate() throws(TransportError) {
        guard messages > 0, bytes > 0, maxStall >= .zero else {
            throw TransportError(.protocolError, "MQTT configuration 'inboundBuffer': limits must be positive")
        }
    }
}
