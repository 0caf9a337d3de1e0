/// What can go wrong generating Mosquitto's files or running a broker process.
public struct MosquittoError: Error, CustomStringConvertible, Sendable {
    /// Kinds of failure.
    public enum Code: String, Sendable {
        /// A user name, topic, path or setting cannot be written into Mosquitto's files.
        case invalidInput
        /// Reading or writing a file failed.
        case io
        /// The `mosquitto` executable was not found.
        case notFound
        /// The broker did not start or did not accept connections in time.
        case startFailed
    }

    /// The kind of failure.
    public var code: Code
    /// A sentence a person can act on.
    public var message: String

    /// An error of `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
