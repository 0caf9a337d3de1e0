/// Everything that can go wrong building or reading a topic, a control message or a binary frame.
///
/// Messages come from the network: every malformed, oversized, forged or too-new input ends in
/// one of these, never in a crash. The code is stable for scripts and tests; the message names the
/// field or byte range at fault and what to do.
public struct ProtocolError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is.
    public enum Code: String, Sendable, CaseIterable {
        /// A device id, group id, model name or message id breaks the identifier rules.
        case invalidIdentifier
        /// A topic name or filter is malformed, or is not a `starling/v1/...` topic this build knows.
        case invalidTopic
        /// The payload is not JSON, or not a JSON object.
        case malformed
        /// A required field is absent.
        case missingField
        /// A field has the wrong JSON type (a string where a number belongs, ...).
        case wrongType
        /// A field has the right type but a value the schema forbids (negative count, bad digest, ...).
        case invalidValue
        /// The message's schema version (`v`) or the frame's version is one this build cannot read.
        case unsupportedVersion
        /// The payload is larger than the reader accepts.
        case tooLarge
        /// A binary frame is truncated, has trailing bytes, a wrong magic or inconsistent lengths.
        case invalidFrame
        /// A signed message has no valid signature for the given key, or is not signed.
        case badSignature
        /// A verified assignment is addressed to another device.
        case wrongDevice
        /// A verified assignment is past its expiry (or issued too far in the future).
        case expired
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String

    /// An error of `code` with an actionable `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension ProtocolError {
    /// The transport's view of this error (topics and filters the broker would refuse).
    public var transportError: TransportError {
        switch code {
        case .tooLarge: TransportError(.tooLarge, message)
        default: TransportError(.invalidTopic, message)
        }
    }
}

/// Checks of field values shared by the message schemas.
enum FieldCheck {
    /// The longest free-text field (reasons, versions, locations), in UTF-8 bytes.
    static let maxTextBytes = 1024

    static func fail(_ schema: String, _ field: String, _ why: String) -> ProtocolError {
        ProtocolError(.invalidValue, "\(schema) message: field '\(field)' \(why)")
    }

    /// The common fields: a valid message id and a non-negative time.
    static func common<M: ControlMessage>(_ message: M) throws(ProtocolError) {
        do {
            try IdentifierRules.check(message.id, kind: "message id")
        } catch {
            throw ProtocolError(.invalidIdentifier, "\(M.schema) message: \(error.message)")
        }
        guard message.time >= 0 else { throw fail(M.schema, "time", "is negative (\(message.time))") }
    }

    static func identifier(_ value: String?, _ schema: String, _ field: String) throws(ProtocolError) {
        guard let value else { return }
        do {
            try IdentifierRules.check(value, kind: "'\(field)'")
        } catch {
            throw ProtocolError(.invalidIdentifier, "\(schema) message: \(error.message)")
        }
    }

    /// Printable text without control characters, 1 to `maxBytes` bytes.
    static func text(_ value: String?, _ schema: String, _ field: String, maxBytes: Int = maxTextBytes) throws(ProtocolError) {
        guard let value else { return }
        guard !value.isEmpty else { throw fail(schema, field, "is empty") }
        guard value.utf8.count <= maxBytes else { throw fail(schema, field, "is longer than \(maxBytes) bytes") }
        guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw fail(schema, field, "contains a control character")
        }
    }

    /// A SHA-256 digest as 64 lowercase hex digits.
    static func digest(_ value: String, _ schema: String, _ field: String) throws(ProtocolError) {
        guard PackageDigest.isHex(value, bytes: 32) else {
            throw fail(schema, field, "is not a SHA-256 digest (64 lowercase hex digits)")
        }
    }

    static func range<T: Comparable>(_ value: T?, _ bounds: ClosedRange<T>, _ schema: String, _ field: String)
        throws(ProtocolError)
    {
        guard let value else { return }
        guard bounds.contains(value) else { throw fail(schema, field, "is \(value), outside \(bounds)") }
    }

    /// A finite floating-point value within `bounds`.
    static func finite(_ value: Double?, _ bounds: ClosedRange<Double>, _ schema: String, _ field: String) throws(ProtocolError) {
        guard let value else { return }
        guard value.isFinite else { throw fail(schema, field, "is not a finite number") }
        try range(value, bounds, schema, field)
    }
}
