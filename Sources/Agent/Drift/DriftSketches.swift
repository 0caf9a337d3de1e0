import Core
import Foundation

/// The sketches of one window, as stored in `drift_windows.sketch` (JSON): the `features` and
/// `predictions` fields of the `DriftReport` it becomes.
public struct DriftSketches: Codable, Sendable, Equatable {
    /// Per-feature sketches.
    public var features: [DriftReport.Feature]
    /// The prediction sketch, if the model's output has one.
    public var predictions: HistogramSketch?

    /// Sketches of features and predictions.
    public init(features: [DriftReport.Feature], predictions: HistogramSketch?) {
        self.features = features
        self.predictions = predictions
    }

    /// Rows counted: the prediction sketch's, else the first feature's (values plus missing).
    public var rows: Int64 {
        if let predictions { return predictions.count + predictions.missing }
        return features.first.map { $0.sketch.count + $0.sketch.missing } ?? 0
    }

    /// The sketches of both windows; the features must match by name and edges.
    public func merged(with other: DriftSketches) throws(ProtocolError) -> DriftSketches {
        guard features.map(\.name) == other.features.map(\.name), (predictions == nil) == (other.predictions == nil) else {
            throw ProtocolError(.invalidValue, "windows with different features cannot be merged")
        }
        var out = self
        for i in features.indices { out.features[i].sketch = try features[i].sketch.merged(with: other.features[i].sketch) }
        if let predictions, let theirs = other.predictions { out.predictions = try predictions.merged(with: theirs) }
        return out
    }
}

/// A window of one model version's sketches, closed or in progress.
public struct SketchedWindow: Sendable, Equatable {
    /// The model's name.
    public var modelName: String
    /// The model's version.
    public var modelVersion: String
    /// Start, ms since the Unix epoch (inclusive).
    public var start: Int64
    /// End, ms since the Unix epoch (exclusive).
    public var end: Int64
    /// What was counted.
    public var sketches: DriftSketches

    /// A window.
    public init(modelName: String, modelVersion: String, start: Int64, end: Int64, sketches: DriftSketches) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.start = start
        self.end = end
        self.sketches = sketches
    }

    /// Reads a stored window back.
    public init(_ stored: DriftWindow) throws(DriftError) {
        do {
            sketches = try JSONDecoder().decode(DriftSketches.self, from: Data(stored.sketch.utf8))
        } catch {
            throw DriftError(
                .corruptWindow,
                "the drift window of \(stored.modelName) \(stored.modelVersion) at \(stored.start) has unreadable sketches",
                underlying: error)
        }
        modelName = stored.modelName
        modelVersion = stored.modelVersion
        start = stored.start
        end = stored.end
    }

    /// The row to store.
    public func stored(reported: Bool = false) throws(DriftError) -> DriftWindow {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: Data
        do {
            json = try encoder.encode(sketches)
        } catch {
            throw DriftError(.invalidReport, "the sketches of \(modelName) \(modelVersion) cannot be encoded", underlying: error)
        }
        return DriftWindow(
            modelName: modelName, modelVersion: modelVersion, start: start, end: end,
            sketch: String(decoding: json, as: UTF8.self), reported: reported)
    }

    /// The message for the hub, checked against the protocol's rules.
    public func report(id: String, time: Int64) throws(DriftError) -> DriftReport {
        let report = DriftReport(
            id: id, time: time, modelName: ModelName(unchecked: modelName), modelVersion: modelVersion, windowStart: start,
            windowEnd: end, features: sketches.features, predictions: sketches.predictions)
        do {
            try IdentifierRules.check(modelName, kind: "model name")
            try report.validate()
        } catch {
            throw DriftError(
                .invalidReport, "the drift window of \(modelName) at \(start) is not a valid report", underlying: error)
        }
        return report
    }
}
