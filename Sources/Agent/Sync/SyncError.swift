import Core

/// Everything that can go wrong in the agent's sync session.
///
/// The code is stable for scripts and tests; the message says what is wrong and what to do; the
/// underlying error (store, protocol) is kept for logs.
public struct SyncError: DomainError {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// A setting cannot be sent in a protocol message (device id, firmware profile, version).
        case invalidConfiguration
        /// `start()` was called on a session that is already started or stopped.
        case alreadyStarted
        /// The transport refused a subscription.
        case subscribeFailed
        /// The store could not take a message for the outbox.
        case storeFailed
        /// A message could not be encoded.
        case encodingFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String
    /// The error from the store, transport or codec, if any.
    public var underlying: (any Error)?

    /// An error of `code`.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }
}

/// The model a device serves, as status and telemetry name it.
public struct ModelIdentity: Sendable, Equatable {
    /// The model's name.
    public var name: ModelName
    /// The served version (at most 64 bytes on the wire; longer versions are left out).
    public var version: String

    /// A model identity.
    public init(name: ModelName, version: String) {
        self.name = name
        self.version = version
    }

    /// The active version of the first model (by name) that has one in `registry`, if any.
    public static func active(in registry: ModelRegistry) -> ModelIdentity? {
        for name in registry.names {
            if let active = registry.versions(of: name)?.active, let model = ModelName(rawValue: name) {
                return ModelIdentity(name: model, version: active)
            }
        }
        return nil
    }
}
