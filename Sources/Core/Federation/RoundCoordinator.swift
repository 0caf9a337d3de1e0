import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How the clients of a federated round train and answer; one set for every iteration.
public struct RoundSettings: Codable, Sendable, Equatable {
    /// Local passes over each client's data.
    public var localEpochs: Int
    /// Examples per local step.
    public var batchSize: Int
    /// Local step size.
    public var learningRate: Double
    /// Local optimizer: `sgd` or `adam`.
    public var optimizer: String
    /// FedProx proximal weight μ for the clients' training; nil for none.
    public var proximalMu: Double?
    /// Clients clip their delta to this L2 norm before encoding; nil for none.
    public var clipNorm: Double?
    /// How clients encode their delta (`float32`, `float16`, `int8`, `topk`).
    public var upEncoding: String
    /// The fraction kept by `topk`.
    public var topKFraction: Double?
    /// How the global parameters travel to the clients (`float32`, `float16`, `int8`).
    public var downEncoding: String
    /// Clients with fewer labelled examples skip the task.
    public var minExamples: Int
    /// The longest a client may train, in seconds; nil: its profile decides.
    public var maxTrainingSeconds: Int?
    /// The server refuses updates whose L2 norm is above this; nil: no bound.
    public var normBound: Double?

    /// Settings; the defaults are Flower's digits recipe (plain SGD, lr 0.1, batch 32, 2 epochs).
    public init(
        localEpochs: Int = 2, batchSize: Int = 32, learningRate: Double = 0.1, optimizer: String = "sgd",
        proximalMu: Double? = nil, clipNorm: Double? = nil, upEncoding: String = "float32", topKFraction: Double? = nil,
        downEncoding: String = "float32", minExamples: Int = 1, maxTrainingSeconds: Int? = nil, normBound: Double? = nil
    ) {
        self.localEpochs = localEpochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.proximalMu = proximalMu
        self.clipNorm = clipNorm
        self.upEncoding = upEncoding
        self.topKFraction = topKFraction
        self.downEncoding = downEncoding
        self.minExamples = minExamples
        self.maxTrainingSeconds = maxTrainingSeconds
        self.normBound = normBound
    }

    /// Checks ranges and that the encodings are known.
    public func validate() throws(FederationError) {
        guard (1...10_000).contains(localEpochs) else { throw FederationError(.invalidArgument, "local epochs must be 1...10000") }
        guard batchSize >= 1 else { throw FederationError(.invalidArgument, "the batch size must be at least 1") }
        guard learningRate.isFinite, learningRate > 0 else { throw FederationError(.invalidArgument, "the learning rate must be positive") }
        guard ["sgd", "adam"].contains(optimizer) else { throw FederationError(.invalidArgument, "the local optimizer must be sgd or adam") }
        if let mu = proximalMu, !(mu.isFinite && mu >= 0) { throw FederationError(.invalidArgument, "mu must be finite and ≥ 0") }
        if let c = clipNorm, !(c.isFinite && c > 0) { throw FederationError(.invalidArgument, "the clip norm must be positive") }
        if let b = normBound, !(b.isFinite && b > 0) { throw FederationError(.invalidArgument, "the norm bound must be positive") }
        _ = try UpdateEncoding(name: upEncoding, fraction: topKFraction)
        let down = try UpdateEncoding(name: downEncoding, fraction: nil)
        guard down != .topK(fraction: 1) else { throw FederationError(.invalidArgument, "the global cannot travel as topk") }
        guard minExamples >= 1 else { throw FederationError(.invalidArgument, "min examples must be at least 1") }
    }
}

/// Why the coordinator refused an update. Each is counted and logged by the hub.
public enum UpdateRejection: String, Codable, Sendable, CaseIterable {
    /// The frame could not be parsed, or its payload could not be decoded.
    case malformed
    /// The signature does not verify with the sending device's key (altered, or signed by another device).
    case badSignature
    /// The hub has no key for the sending device.
    case unknownDevice
    /// The device was not selected for this iteration.
    case notSelected
    /// It answers another round, model or task.
    case wrongRound
    /// It answers an iteration that has closed (late, or replayed from an earlier iteration).
    case late
    /// The device already answered this iteration.
    case duplicate
    /// Its layout or length is not the model's.
    case shapeMismatch
    /// It holds NaN or infinity.
    case nonFinite
    /// Its L2 norm is over the round's bound.
    case normTooLarge
    /// The strategy refused it.
    case refusedByStrategy
}

/// What became of one update.
public enum UpdateVerdict: Sendable, Equatable {
    /// Folded into the aggregate (a `fit` answer) or the evaluation (an `evaluate` answer).
    case accepted
    /// Refused, with the reason and a sentence for the log.
    case rejected(UpdateRejection, String)
}

/// Weighted sums of what clients reported about the global parameters they were sent.
public struct FederatedEvaluation: Codable, Sendable, Equatable {
    /// Examples evaluated, over all clients.
    public var examples: Int = 0
    /// Correct predictions among them (classification).
    public var correct: Int = 0
    /// Σ examples × mean loss, in millionths.
    public var lossMicrosSum: Double = 0
    /// Σ training examples × mean last-epoch training loss (fit answers), in millionths.
    public var trainLossMicrosSum: Double = 0
    /// Training examples over all fit answers.
    public var trainExamples: Int = 0

    /// Accuracy over all clients' examples; nil before any.
    public var accuracy: Double? { examples > 0 ? Double(correct) / Double(examples) : nil }
    /// Example-weighted mean loss; nil before any.
    public var loss: Double? { examples > 0 ? lossMicrosSum / Double(examples) / 1_000_000 : nil }
    /// Example-weighted mean training loss; nil before any fit answer.
    public var trainLoss: Double? { trainExamples > 0 ? trainLossMicrosSum / Double(trainExamples) / 1_000_000 : nil }

    /// No reports.
    public init() {}
}

/// The state of one iteration, kept by the coordinator and persisted by the hub.
public struct IterationState: Codable, Sendable, Equatable {
    /// 1-based number within the round.
    public var number: Int
    /// `fit` or `evaluate`.
    public var kind: String
    /// The task's id (every selected device gets the same task).
    public var taskId: String
    /// When it opened, ms since the epoch.
    public var openedAt: Int64
    /// Updates after this (ms since the epoch) are late.
    public var deadline: Int64
    /// Devices asked.
    public var selected: [String]
    /// Devices whose answer was accepted, in arrival order.
    public var answered: [String]
    /// The federated evaluation so far.
    public var evaluation: FederatedEvaluation
    /// Encoded update bytes received (accepted or not).
    public var bytesReceived: Int
    /// The local learning rate of this iteration when it differs from the settings' (a schedule).
    public var learningRate: Double?
}

/// What closing an iteration produced.
public struct IterationResult: Sendable, Equatable {
    /// The iteration.
    public var state: IterationState
    /// The new global parameters (unchanged by an `evaluate` iteration).
    public var global: [Float]
}

/// The server side of a federated round, free of storage and transport: it issues each
/// iteration's task frame, checks every update (signature with the device's key, round and task,
/// selection, duplicates, layout, finite values, norm bound), feeds accepted deltas to the
/// strategy as they arrive, and closes iterations into new global parameters. The hub persists
/// `snapshot()` and publishes; `starling simulate federated` drives it in-process.
public struct RoundCoordinator: Sendable {
    /// The round's id.
    public let roundId: String
    /// The model trained.
    public let modelName: ModelName
    /// The registered version the round started from.
    public let baseVersion: String
    /// The layout of the model's trainable parameters.
    public let layout: ParameterLayout
    /// The clients' settings.
    public let settings: RoundSettings
    /// The current global parameters.
    public private(set) var global: [Float]
    /// The open iteration, if any.
    public private(set) var iteration: IterationState?
    /// Iterations closed so far.
    public private(set) var completed: Int
    /// Refusals by reason since the round began.
    public private(set) var rejections: [UpdateRejection: Int] = [:]
    private var strategy: any AggregationStrategy
    private var taskPayload: [UInt8] = []

    /// A coordinator starting from `global` (the base version's parameters in `layout`).
    public init(
        roundId: String, modelName: ModelName, baseVersion: String, layout: ParameterLayout, global: [Float],
        settings: RoundSettings, strategy: any AggregationStrategy
    ) throws(FederationError) {
        try settings.validate()
        guard global.count == layout.count else {
            throw FederationError(.shapeMismatch, "the global has \(global.count) values; the layout \(layout.count)")
        }
        self.roundId = roundId
        self.modelName = modelName
        self.baseVersion = baseVersion
        self.layout = layout
        self.settings = settings
        self.global = global
        self.strategy = strategy
        completed = 0
    }

    /// The strategy's name.
    public var strategyName: String { strategy.name }

    /// Opens iteration `completed + 1` for `selected` devices and returns its task frame (the same
    /// frame for every device). `kind` `evaluate` asks only for federated evaluation.
    public mutating func open(
        selected: [String], now: Int64, deadline: Int64, kind: String = "fit", learningRate: Double? = nil
    ) throws(FederationError) -> FLTaskFrame {
        if let learningRate, !(learningRate.isFinite && learningRate > 0) {
            throw FederationError(.invalidArgument, "the learning rate must be positive")
        }
        guard iteration == nil else { throw FederationError(.invalidArgument, "iteration \(completed + 1) is already open") }
        guard !selected.isEmpty else { throw FederationError(.notEnoughUpdates, "no devices selected") }
        guard deadline > now else { throw FederationError(.invalidArgument, "the deadline is not in the future") }
        let number = completed + 1
        var state = IterationState(
            number: number, kind: kind, taskId: "\(roundId)-\(number)\(kind == "evaluate" ? "e" : "")", openedAt: now,
            deadline: deadline, selected: Array(Set(selected)).sorted(), answered: [], evaluation: FederatedEvaluation(),
            bytesReceived: 0, learningRate: learningRate)
        if kind == "fit" { try strategy.beginRound(global: global) }
        var none: [Float]? = nil
        taskPayload = try UpdateCodec.encode(
            global, layout: layout, as: try UpdateEncoding(name: settings.downEncoding), residual: &none)
        state.kind = kind
        iteration = state
        return try taskFrame()
    }

    /// The open iteration's task frame (again: for a device that reconnected, or after a restart).
    public func taskFrame() throws(FederationError) -> FLTaskFrame {
        guard let state = iteration else { throw FederationError(.invalidArgument, "no iteration is open") }
        let s = settings
        let task = FLTask(
            id: state.taskId, time: state.openedAt, roundId: roundId, roundNumber: state.number, kind: state.kind,
            modelName: modelName, baseVersion: baseVersion, deadline: state.deadline, localEpochs: s.localEpochs,
            batchSize: s.batchSize, learningRate: state.learningRate ?? s.learningRate, optimizer: s.optimizer,
            proximalMu: s.proximalMu,
            clipNorm: s.clipNorm, encoding: s.upEncoding, topKFraction: s.topKFraction, minExamples: s.minExamples,
            maxTrainingSeconds: s.maxTrainingSeconds, layoutDigest: layout.digest, globalEncoding: s.downEncoding,
            globalSize: taskPayload.count, globalSha256: PackageDigest.sha256(taskPayload))
        do {
            return try FLTaskFrame(task: task, payload: taskPayload)
        } catch {
            throw FederationError(.malformed, "the task frame could not be built: \(error.message)")
        }
    }

    /// Checks `frame` from `device` (whose public key is `key`, nil when the hub has none) and,
    /// if it is good, folds it in. Never throws: every refusal is a verdict, counted.
    public mutating func receive(
        _ frame: FLUpdateFrame, from device: String, key: Curve25519.Signing.PublicKey?, now: Int64
    ) -> UpdateVerdict {
        let verdict = check(frame, from: device, key: key, now: now)
        if case .rejected(let reason, _) = verdict { rejections[reason, default: 0] += 1 }
        return verdict
    }

    /// Counts an update that could not even be parsed.
    public mutating func countMalformed() {
        rejections[.malformed, default: 0] += 1
    }

    private mutating func check(
        _ frame: FLUpdateFrame, from device: String, key: Curve25519.Signing.PublicKey?, now: Int64
    ) -> UpdateVerdict {
        guard let key else { return .rejected(.unknownDevice, "no signing key is enrolled for \(device)") }
        let header: FLUpdateHeader
        do {
            header = try frame.header.verified(with: key)
        } catch {
            return .rejected(.badSignature, "the update from \(device) does not verify with its key")
        }
        guard header.roundId == roundId, header.modelName == modelName else {
            return .rejected(.wrongRound, "the update from \(device) answers round \(header.roundId), not \(roundId)")
        }
        guard var state = iteration, header.roundNumber == state.number, header.taskId == state.taskId else {
            let open = iteration.map { "\($0.number)" } ?? "none"
            return .rejected(
                .late, "the update from \(device) answers iteration \(header.roundNumber), which is closed (open: \(open))")
        }
        guard now <= state.deadline else {
            return .rejected(.late, "the update from \(device) arrived after the deadline")
        }
        guard state.selected.contains(device) else {
            return .rejected(.notSelected, "\(device) was not selected for iteration \(state.number)")
        }
        guard !state.answered.contains(device) else {
            return .rejected(.duplicate, "\(device) already answered iteration \(state.number)")
        }
        guard header.layoutDigest == layout.digest else {
            return .rejected(.shapeMismatch, "the update from \(device) is for another parameter layout")
        }
        state.bytesReceived += frame.payload.count
        if state.kind == "fit" {
            guard header.examples > 0 else {
                return .rejected(.malformed, "the update from \(device) reports no training examples")
            }
            let delta: [Float]
            do {
                delta = try UpdateCodec.decode(frame.payload, layout: layout)
            } catch {
                iteration = state
                return .rejected(error.code == .shapeMismatch ? .shapeMismatch : .malformed, error.message)
            }
            guard delta.allSatisfy(\.isFinite) else {
                iteration = state
                return .rejected(.nonFinite, "the update from \(device) holds NaN or infinity")
            }
            if let bound = settings.normBound {
                let norm = FederatedClient.l2Norm(delta)
                guard Double(norm) <= bound else {
                    iteration = state
                    return .rejected(.normTooLarge, "the update from \(device) has norm \(norm); the bound is \(bound)")
                }
            }
            do {
                try strategy.add(ClientUpdate(client: device, delta: delta, examples: header.examples))
            } catch {
                iteration = state
                return .rejected(.refusedByStrategy, error.message)
            }
            if let train = header.trainLossMicros {
                state.evaluation.trainLossMicrosSum += Double(train) * Double(header.examples)
                state.evaluation.trainExamples += header.examples
            }
        }
        if header.evalExamples > 0 {
            state.evaluation.examples += header.evalExamples
            state.evaluation.correct += header.evalCorrect ?? 0
            state.evaluation.lossMicrosSum += Double(header.evalLossMicros ?? 0) * Double(header.evalExamples)
        }
        state.answered.append(device)
        iteration = state
        return .accepted
    }

    /// Whether every selected device has answered.
    public var allAnswered: Bool {
        guard let state = iteration else { return false }
        return state.answered.count == state.selected.count
    }

    /// Closes the open iteration: aggregates (fit) and returns the new global.
    public mutating func close() throws(FederationError) -> IterationResult {
        guard let state = iteration else { throw FederationError(.invalidArgument, "no iteration is open") }
        if state.kind == "fit" {
            guard !state.answered.isEmpty else {
                throw FederationError(.notEnoughUpdates, "iteration \(state.number) closed without any accepted update")
            }
            global = try strategy.finishRound()
        }
        iteration = nil
        completed += 1
        return IterationResult(state: state, global: global)
    }

    /// Gives up the open iteration without aggregating (too few answers): the next `open` repeats
    /// its number.
    public mutating func abandon() {
        iteration = nil
    }

    // MARK: - Persistence

    /// Everything needed to resume: the settings, the global, the open iteration, the strategy's
    /// state (its partial aggregate included), as bytes.
    public func snapshot() throws(FederationError) -> [UInt8] {
        let meta = Meta(
            roundId: roundId, modelName: modelName, baseVersion: baseVersion, layout: layout, settings: settings,
            iteration: iteration, completed: completed, rejections: Dictionary(uniqueKeysWithValues: rejections.map { ($0.key.rawValue, $0.value) }))
        let json: [UInt8]
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            json = Array(try encoder.encode(meta))
        } catch {
            throw FederationError(.malformed, "the round state could not be written: \(error)")
        }
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(json.count))
        out.append(contentsOf: json)
        out.appendLittleEndian(UInt32(global.count))
        for x in global { out.appendLittleEndian(x.bitPattern) }
        let s = strategy.snapshot()
        out.appendLittleEndian(UInt32(s.count))
        out.append(contentsOf: s)
        out.appendLittleEndian(UInt32(taskPayload.count))
        out.append(contentsOf: taskPayload)
        return out
    }

    /// A coordinator restored from `snapshot()`'s bytes, with a strategy of the same configuration.
    public init(restoring bytes: [UInt8], strategy: any AggregationStrategy) throws(FederationError) {
        var r = ByteReader(bytes: bytes)
        let json = Array(try r.take(Int(try r.u32())))
        let meta: Meta
        do {
            meta = try JSONDecoder().decode(Meta.self, from: Data(json))
        } catch {
            throw FederationError(.malformed, "the round state cannot be read: \(error)")
        }
        let count = Int(try r.u32())
        guard count == meta.layout.count else { throw FederationError(.malformed, "the round state's global has the wrong length") }
        var global = [Float](repeating: 0, count: count)
        for i in 0..<count { global[i] = Float(bitPattern: try r.u32()) }
        var strategy = strategy
        try strategy.restore(Array(try r.take(Int(try r.u32()))))
        let payload = Array(try r.take(Int(try r.u32())))
        guard r.atEnd else { throw FederationError(.malformed, "the round state has trailing bytes") }
        roundId = meta.roundId
        modelName = meta.modelName
        baseVersion = meta.baseVersion
        layout = meta.layout
        settings = meta.settings
        self.global = global
        iteration = meta.iteration
        completed = meta.completed
        rejections = Dictionary(uniqueKeysWithValues: meta.rejections.compactMap { k, v in UpdateRejection(rawValue: k).map { ($0, v) } })
        self.strategy = strategy
        taskPayload = payload
    }

    private struct Meta: Codable {
        var roundId: String
        var modelName: ModelName
        var baseVersion: String
        var layout: ParameterLayout
        var settings: RoundSettings
        var iteration: IterationState?
        var completed: Int
        var rejections: [String: Int]
    }
}
