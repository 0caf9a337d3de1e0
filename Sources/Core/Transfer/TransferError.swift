/// Everything that can end a chunked package transfer, on either side.
///
/// Refused chunks and requests are counted, not thrown: a transfer fails only when it cannot go
/// on (a chunk refused or unanswered too often, the disk, the transport). The code is stable for
/// scripts and tests; the message says what went wrong and what to do.
public struct TransferError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, CaseIterable {
        /// A setting is out of range (window, timeout, retry bounds, reply stream name).
        case invalidArgument
        /// The package head failed verification (signature, size, format) too many times.
        case headRefused
        /// Copies of one chunk failed their checks (digest, length) too many times.
        case chunkRefused
        /// Every chunk matched the manifest, but the assembled payload does not match its digest
        /// (a manifest whose chunk list disagrees with its payload digest).
        case payloadRefused
        /// A request (head or chunk) went unanswered too many times.
        case timedOut
        /// The chunk directory holds another package, or a head for another package was given.
        case wrongPackage
        /// Reading or writing the chunk directory or a package file failed.
        case storage
        /// A package file served by the hub is damaged (a chunk does not match its manifest).
        case corruptSource
        /// Publishing a request or subscribing failed for good (closed, refused, not authorized).
        case transport
        /// The inbound message stream ended before the transfer did (the transport closed).
        case inputEnded
        /// The task running the transfer was cancelled.
        case cancelled
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error that caused this one (an `ArtifactError`, `TransportError`, ...), if any.
    public var underlying: (any Error & Sendable)?

    /// An error of `code` with an actionable `message`.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// The message, with the underlying error if any.
    public var description: String {
        if let underlying { return "\(message) (\(underlying))" }
        return message
    }
}
