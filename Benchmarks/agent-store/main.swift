// starling-store-bench: how fast the agent's SQLite store takes feedback (labels) and predictions
// while a concurrent task simulates serving, beside Python's sqlite3 writing the same rows into
// the same schema in the same run. Prints one JSON object per line.
//
//   starling-store-bench [--rows N] [--batch B] [--serve-rate R] [--python PATH|off]
import Agent
import Core
import Foundation

struct Options {
    var rows = 200_000
    var batch = 1000
    var python: String? = "python3"
    var serveRate = 2000

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            let value = rest.popFirst() ?? ""
            switch flag {
            case "--rows": rows = Int(value) ?? rows
            case "--batch": batch = max(1, Int(value) ?? batch)
            case "--python": python = value == "off" ? nil : value
            case "--serve-rate": serveRate = max(0, Int(value) ?? serveRate)
            default:
                print("usage: starling-store-bench [--rows N] [--batch B] [--serve-rate R] [--python PATH|off]")
                exit(2)
            }
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

func prediction(_ index: Int, prefix: String = "req") -> PredictionRecord {
    PredictionRecord(
        requestID: "\(prefix)-\(index)", time: 1_800_000_000_000 + Int64(index), modelName: "digits", modelVersion: "1.0.0",
        inputs: "[0.0,0.25,0.5,0.75,1.0,0.0,0.25,0.5,0.75,1.0,0.0,0.25,0.5,0.75,1.0,0.0]", outputs: "[0.05,0.95]",
        latencyMicroseconds: 180)
}

/// The `q` quantile of `values` (nearest rank); 0 when empty.
func percentile(_ values: [Int64], _ q: Double) -> Int64 {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.up)) - 1)]
}

/// Emits one result line.
func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Simulated serving: `rate` requests per second, each a little CPU work (about what a tiny
/// model's forward pass takes) and one `record`, until `stop`. Returns the counts and how long
/// each `record` call took.
final class Serving: Sendable {
    let store: AgentStore
    let rate: Int
    private let stopFlag = Flag()

    init(store: AgentStore, rate: Int) {
        self.store = store
        self.rate = rate
    }

    func run() async -> (recorded: Int, dropped: Int, recordNanoseconds: [Int64]) {
        var recordNanoseconds: [Int64] = []
        var recorded = 0
        var dropped = 0
        var index = 0
        var sink: Float = 0
        let start = ContinuousClock.now
        while !stopFlag.isSet {
            let due = Int(seconds(ContinuousClock.now - start) * Double(rate))
            while index < due {
                for k in 0..<256 { sink += Float(k & 7) * 0.5 }
                let record = prediction(index, prefix: "serve")
                let before = ContinuousClock.now
                let accepted = store.record(record)
                recordNanoseconds.append((ContinuousClock.now - before).components.attoseconds / 1_000_000_000)
                if accepted { recorded += 1 } else { dropped += 1 }
                index += 1
            }
            try? await Task.sleep(for: .milliseconds(1))
        }
        if sink < 0 { print(sink) }
        return (recorded, dropped, recordNanoseconds)
    }

    func stop() { stopFlag.set() }
}

/// A flag set once, read from any thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

let options = Options(CommandLine.arguments)
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-store-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

let rows = options.rows
let path = "\(directory)/agent.sqlite"
let store = try await AgentStore.open(StoreConfiguration(path: path, predictionQueueCapacity: 16_384))

// MARK: - Predictions through the batched writer (back-pressure by retrying on a full queue)

var start = ContinuousClock.now
var retries = 0
for index in 0..<rows {
    while !store.record(prediction(index)) {
        // The queue is full: give the writer the core instead of spinning.
        retries += 1
        try await Task.sleep(for: .microseconds(200))
    }
}
await store.flush()
let predictionSeconds = seconds(ContinuousClock.now - start)
emit([
    "metric": "prediction_rows_per_s", "value": Double(rows) / predictionSeconds, "rows": rows,
    "transactions": store.statistics.writeTransactions, "queue_full_waits": retries,
])

// MARK: - Feedback while serving

let serving = Serving(store: store, rate: options.serveRate)
let servingTask = Task { await serving.run() }
start = ContinuousClock.now
var attached = 0
for first in stride(from: 0, to: rows, by: options.batch) {
    let items = (first..<min(rows, first + options.batch)).map {
        FeedbackInput(predictionID: "req-\($0)", label: String($0 % 10), time: 1_800_000_100_000)
    }
    attached += try await store.attachFeedback(items).filter { $0 == .attached }.count
}
let feedbackSeconds = seconds(ContinuousClock.now - start)
serving.stop()
let served = await servingTask.value
let feedbackRate = Double(attached) / feedbackSeconds
emit([
    "metric": "feedback_rows_per_s", "value": feedbackRate, "rows": attached, "batch": options.batch,
    "served_predictions": served.recorded, "served_dropped": served.dropped,
    "serve_rate": options.serveRate, "target": 100_000,
    "record_call_ns_p50": percentile(served.recordNanoseconds, 0.5),
    "record_call_ns_p99": percentile(served.recordNanoseconds, 0.99),
    "record_call_ns_max": served.recordNanoseconds.max() ?? 0,
])

// MARK: - Single labels from concurrent callers (group commit)

await store.flush()
let singles = min(rows, 20_000)
let servedBase = rows
for index in 0..<singles { store.record(prediction(servedBase + index)) }
await store.flush()
start = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for lane in 0..<64 {
        group.addTask {
            var index = lane
            while index < singles {
                _ = try await store.attachFeedback(predictionID: "req-\(servedBase + index)", label: "1", time: 1)
                index += 64
            }
        }
    }
    try await group.waitForAll()
}
let singleSeconds = seconds(ContinuousClock.now - start)
emit([
    "metric": "feedback_single_calls_per_s", "value": Double(singles) / singleSeconds, "rows": singles, "concurrent_callers": 64,
])

// MARK: - Sealing into FeedbackBatch messages

start = ContinuousClock.now
var sealed = 0
let device = try DeviceID("bench-device")
while true {
    let ids = try await store.sealFeedback(for: device, maxBatches: 64)
    if ids.isEmpty { break }
    sealed += ids.count
}
let sealSeconds = seconds(ContinuousClock.now - start)
emit(["metric": "feedback_rows_sealed_per_s", "value": Double(attached + singles) / sealSeconds, "batches": sealed])
emit(["metric": "database_bytes", "value": store.bytesOnDisk, "predictions": try await store.predictionCount()])
await store.close()

// MARK: - Peer: Python's sqlite3 into the same schema

if let python = options.python {
    if let peer = try pythonBaseline(python: python, schemaFrom: path, directory: directory, rows: rows, batch: options.batch) {
        emit([
            "metric": "peer_python_sqlite3_feedback_rows_per_s", "value": peer.feedbackRate, "rows": rows,
            "batch": options.batch, "sqlite": peer.sqliteVersion, "starling_over_peer": feedbackRate / peer.feedbackRate,
        ])
        emit([
            "metric": "peer_python_sqlite3_prediction_rows_per_s", "value": peer.predictionRate, "rows": rows,
            "starling_over_peer": Double(rows) / predictionSeconds / peer.predictionRate,
        ])
    }
}
