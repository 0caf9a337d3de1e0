import Core
import Foundation

/// What a class of device can do and may spend: the agent enforces it (models that do not fit
/// are refused, the store is pruned to its budget, training and traffic follow its policies).
/// One JSON file per profile in `firmware-profiles/`.
public struct FirmwareProfile: Sendable, Equatable, Codable {
    /// When local training may run.
    public struct TrainingPolicy: Sendable, Equatable, Codable {
        /// False: the device never trains (federated tasks are declined).
        public var allowed: Bool
        /// Longest training run, seconds.
        public var maxSeconds: Int
        /// Most memory a training run may use, MiB.
        public var maxMemoryMegabytes: Int
        /// Train only when the inference service is idle.
        public var onlyWhenIdle: Bool
        /// Train only on mains power (not on battery).
        public var onlyOnMainsPower: Bool
    }

    /// How the device may use its network.
    public struct NetworkPolicy: Sendable, Equatable, Codable {
        /// True on metered links (cellular): bulk traffic counts against `dailyByteBudget`.
        public var metered: Bool
        /// Bytes a day the agent may send and receive in bulk (model downloads, FL updates) on a metered link.
        public var dailyByteBudget: Int?
    }

    /// The profile's name, also listed in packages' compatible profiles.
    public var name: String
    /// One line about the device.
    public var description: String
    /// CPU architecture as `uname -m` prints it (`x86_64`, `aarch64`).
    public var architecture: String
    /// SIMD features the profile assumes (`avx2`, `avx512vnni`, `neon`, `dotprod`).
    public var simd: [String]
    /// Threads the agent may use.
    public var threads: Int
    /// Memory the agent may use, MiB (models and buffers included).
    public var memoryBudgetMegabytes: Int
    /// Disk the agent's store may use, MiB.
    public var storageBudgetMegabytes: Int
    /// Largest model file the device accepts, MiB.
    public var largestModelMegabytes: Int
    /// Local training policy.
    public var training: TrainingPolicy
    /// Network policy.
    public var network: NetworkPolicy

    /// SIMD feature names the profiles may use.
    public static let knownSIMD: Set<String> = ["sse4.2", "avx2", "avx512vnni", "neon", "dotprod"]

    /// Storage budget in bytes.
    public var storageBudgetBytes: Int { storageBudgetMegabytes << 20 }
    /// Largest model in bytes.
    public var largestModelBytes: Int { largestModelMegabytes << 20 }

    /// Reads `directory/name.json` and validates it.
    public static func load(named name: String, from directory: String) throws(ConfigurationError) -> FirmwareProfile {
        guard IdentifierRules.isValid(name) else {
            throw ConfigurationError(.invalidValue, key: "profile.name", "profile.name '\(name)' is not a valid profile name")
        }
        let path = directory + "/" + name + ".json"
        guard let data = FileManager.default.contents(atPath: path) else {
            let known = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
            throw ConfigurationError(
                .unreadable, key: "profile.name",
                "no firmware profile '\(name)' in '\(directory)'" + (known.isEmpty ? "" : "; known: " + known.joined(separator: ", ")))
        }
        let profile: FirmwareProfile
        do {
            profile = try JSONDecoder().decode(FirmwareProfile.self, from: data)
        } catch {
            throw ConfigurationError(.malformed, key: "profile.name", "firmware profile '\(path)' is malformed: \(Self.describe(error))")
        }
        guard profile.name == name else {
            throw ConfigurationError(.malformed, key: "profile.name", "'\(path)' names itself '\(profile.name)', not '\(name)'")
        }
        try profile.validate(path: path)
        return profile
    }

    /// Checks the values are sane (positive budgets, known features).
    public func validate(path: String) throws(ConfigurationError) {
        func fail(_ field: String, _ rule: String) -> ConfigurationError {
            ConfigurationError(.malformed, key: "profile.name", "firmware profile '\(path)': \(field) \(rule)")
        }
        guard ["x86_64", "aarch64", "armv7l"].contains(architecture) else { throw fail("architecture", "must be x86_64, aarch64 or armv7l") }
        if let unknown = simd.first(where: { !Self.knownSIMD.contains($0) }) {
            throw fail("simd", "lists '\(unknown)'; known: " + Self.knownSIMD.sorted().joined(separator: ", "))
        }
        guard (1...256).contains(threads) else { throw fail("threads", "must be 1...256") }
        guard memoryBudgetMegabytes >= 8 else { throw fail("memoryBudgetMegabytes", "must be at least 8") }
        guard storageBudgetMegabytes >= 1 else { throw fail("storageBudgetMegabytes", "must be at least 1") }
        guard largestModelMegabytes >= 1, largestModelMegabytes <= memoryBudgetMegabytes else {
            throw fail("largestModelMegabytes", "must be 1...memoryBudgetMegabytes")
        }
        guard training.maxSeconds >= 0, training.maxMemoryMegabytes >= 0, training.maxMemoryMegabytes <= memoryBudgetMegabytes else {
            throw fail("training", "needs maxSeconds ≥ 0 and maxMemoryMegabytes within the memory budget")
        }
        if network.metered, (network.dailyByteBudget ?? 0) <= 0 { throw fail("network.dailyByteBudget", "must be positive on a metered link") }
    }

    /// Problems running this profile on the current machine: another architecture, or SIMD
    /// features the CPU lacks. Empty when the machine matches.
    public func mismatchesWithHost() -> [String] {
        var problems: [String] = []
        #if arch(x86_64)
        let host = "x86_64"
        #elseif arch(arm64)
        let host = "aarch64"
        #else
        let host = "unknown"
        #endif
        if architecture != host { problems.append("the profile is for \(architecture), this machine is \(host)") }
        for feature in simd {
            let present: Bool? =
                switch feature {
                case "avx2": KernelBackend.avx2.isAvailable
                case "avx512vnni": KernelBackend.avx512vnni.isAvailable
                default: nil  // not probed here; the architecture check covers it
                }
            if present == false { problems.append("the profile assumes \(feature), which this CPU lacks") }
        }
        return problems
    }

    /// Refuses a model file larger than the profile allows.
    public func checkModelSize(_ bytes: Int, name: String) throws(ConfigurationError) {
        guard bytes <= largestModelBytes else {
            throw ConfigurationError(
                .profileViolation,
                "model '\(name)' has \(bytes) bytes, over the \(largestModelMegabytes) MiB that firmware profile '\(self.name)' allows")
        }
    }

    /// True when a training run may start now under this profile's policy.
    public func mayTrain(serviceIdle: Bool, onMainsPower: Bool) -> Bool {
        training.allowed && training.maxSeconds > 0 && (serviceIdle || !training.onlyWhenIdle)
            && (onMainsPower || !training.onlyOnMainsPower)
    }

    /// The store budget: the configuration's when it is smaller, else the profile's.
    public func effectiveStorageBudget(configured: Int?) throws(ConfigurationError) -> Int {
        guard let configured else { return storageBudgetBytes }
        guard configured <= storageBudgetBytes else {
            throw ConfigurationError(
                .profileViolation, key: "storage.budgetMegabytes",
                "storage.budgetMegabytes (\(configured >> 20)) is over firmware profile '\(name)''s \(storageBudgetMegabytes) MiB")
        }
        return configured
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type"
        case DecodingError.dataCorrupted(let context): context.debugDescription
        default: "\(error)"
        }
    }
}
