import Core
import Synchronization

/// The models the agent serves: several names, several loaded versions per name, one active
/// version per name. Activating a version is one atomic swap; requests that already resolved
/// the old version finish on it, new requests get the new one.
public final class ModelRegistry: Sendable {
    private struct Entry {
        var versions: [String: ServedModel] = [:]
        /// Load order, for listings.
        var order: [String] = []
        var active: String?
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let backend: KernelBackend
    private let batching: BatchingConfiguration
    /// The metrics the served models report to, if any.
    public let metrics: ServingMetrics?
    /// Where served models report their inputs and predictions for drift sketches, if anywhere.
    public let drift: DriftService?

    /// An empty registry compiling models for `backend` and batching them per `batching`.
    public init(
        backend: KernelBackend = .best, batching: BatchingConfiguration = BatchingConfiguration(), metrics: ServingMetrics? = nil,
        drift: DriftService? = nil
    ) {
        self.drift = drift
        self.backend = backend
        self.batching = batching
        self.metrics = metrics
    }

    /// Compiles `model` and adds it as `version` of `name`. With `activate` it then becomes the
    /// version unversioned requests get (the previous one serves until that moment).
    @discardableResult
    public func load(_ model: Model, name: String, version: String, activate: Bool = true) throws(InferenceError) -> ServedModel {
        try Self.checkIdentifier(name, what: "model name")
        try Self.checkIdentifier(version, what: "model version")
        if entries.withLock({ $0[name]?.versions[version] != nil }) {
            throw InferenceError(.conflict, "model '\(name)' version \(version) is already loaded")
        }
        // Compile outside the lock: it packs weights and can take a while.
        // A model the drift sketches cannot describe still serves, unsketched.
        let recorder = try? drift?.recorder(name: name, version: version, model: model)
        let served = try ServedModel(
            name: name, version: version, model: model, backend: backend, batching: batching, metrics: metrics,
            drift: recorder)
        try entries.withLock { (all) throws(InferenceError) in
            var entry = all[name] ?? Entry()
            guard entry.versions[version] == nil else {
                throw InferenceError(.conflict, "model '\(name)' version \(version) is already loaded")
            }
            entry.versions[version] = served
            entry.order.append(version)
            if activate { entry.active = version }
            all[name] = entry
        }
        if activate { metrics?.setActive(model: name, version: version) }
        return served
    }

    /// Makes the loaded `version` the active version of `name`.
    public func activate(name: String, version: String) throws(InferenceError) {
        try entries.withLock { (all) throws(InferenceError) in
            guard var entry = all[name] else { throw InferenceError(.notFound, "no model named '\(name)' is loaded") }
            guard entry.versions[version] != nil else {
                throw InferenceError(
                    .notFound, "model '\(name)' has no version \(version) loaded (loaded: \(entry.order.joined(separator: ", ")))"
                )
            }
            entry.active = version
            all[name] = entry
        }
        metrics?.setActive(model: name, version: version)
    }

    /// Stops `version` of `name` being the active version (requests without a version then get
    /// "unavailable"); nothing happens if another version is active.
    public func deactivate(name: String, version: String) {
        entries.withLock { all in
            if all[name]?.active == version { all[name]?.active = nil }
        }
    }

    /// Unloads a version that is not active; requests still running on it finish first.
    public func unload(name: String, version: String) throws(InferenceError) {
        try entries.withLock { (all) throws(InferenceError) in
            guard var entry = all[name], entry.versions[version] != nil else {
                throw InferenceError(.notFound, "model '\(name)' has no version \(version) loaded")
            }
            guard entry.active != version else {
                throw InferenceError(.conflict, "model '\(name)' version \(version) is active; activate another version first")
            }
            entry.versions[version] = nil
            entry.order.removeAll { $0 == version }
            all[name] = entry.versions.isEmpty ? nil : entry
        }
    }

    /// The model a request for `name` (and `version`, or the active one when nil) runs on.
    public func model(_ name: String, version: String? = nil) throws(InferenceError) -> ServedModel {
        try entries.withLock { (all) throws(InferenceError) in
            guard let entry = all[name] else { throw InferenceError(.notFound, "no model named '\(name)' is loaded") }
            if let version {
                guard let served = entry.versions[version] else {
                    throw InferenceError(
                        .notFound, "model '\(name)' has no version \(version) (loaded: \(entry.order.joined(separator: ", ")))")
                }
                return served
            }
            guard let active = entry.active, let served = entry.versions[active] else {
                throw InferenceError(.unavailable, "model '\(name)' has no active version yet")
            }
            return served
        }
    }

    /// Names of the loaded models, sorted.
    public var names: [String] { entries.withLock { Array($0.keys).sorted() } }

    /// The loaded versions of `name` in load order and the active one; nil for an unknown name.
    public func versions(of name: String) -> (loaded: [String], active: String?)? {
        entries.withLock { all in all[name].map { ($0.order, $0.active) } }
    }

    /// Whether at least one model is loaded and every loaded name has an active version.
    public var isReady: Bool {
        entries.withLock { all in !all.isEmpty && all.values.allSatisfy { $0.active != nil } }
    }

    /// Names and versions are 1 to 128 of `A-Z a-z 0-9 . _ -`, so they are safe in paths and labels.
    static func checkIdentifier(_ text: String, what: String) throws(InferenceError) {
        let allowed = { (b: UInt8) in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F
                || b == 0x2D
        }
        guard (1...128).contains(text.utf8.count), text.utf8.allSatisfy(allowed) else {
            throw InferenceError(
                .invalidRequest, "\(what) '\(text)' must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
        }
    }
}
