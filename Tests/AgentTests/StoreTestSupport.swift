import Foundation
import Testing

@testable import Agent

/// A fresh temporary directory for one test, removed afterwards.
func withTemporaryDirectory(_ body: (String) async throws -> Void) async throws {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("starling-store-\(UUID().uuidString.lowercased())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try await body(path)
}

/// A store on a new file in a temporary directory, closed and removed afterwards.
func withStore(
    _ tweak: (inout StoreConfiguration) -> Void = { _ in }, _ body: (AgentStore, String) async throws -> Void
) async throws {
    try await withTemporaryDirectory { directory in
        var configuration = StoreConfiguration(path: "\(directory)/agent.sqlite", now: { 1_800_000_000_000 })
        tweak(&configuration)
        let store = try await AgentStore.open(configuration)
        do {
            try await body(store, directory)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
    }
}

/// The `index`th test prediction: request id `req-<index>`, inputs of about `inputBytes` bytes.
func samplePrediction(_ index: Int, model: String = "digits", version: String = "1.0.0", inputBytes: Int = 40)
    -> PredictionRecord
{
    let values = (0..<max(1, inputBytes / 4)).map { _ in "0.5" }.joined(separator: ",")
    return PredictionRecord(
        requestID: "req-\(index)", time: 1_800_000_000_000 + Int64(index), modelName: model, modelVersion: version,
        inputs: "[\(values)]", outputs: "[0.1,0.9]", latencyMicroseconds: 250)
}

/// Records `range` as sample predictions and waits until they are written.
func recordAndFlush(_ store: AgentStore, _ range: Range<Int>, inputBytes: Int = 40) async {
    for index in range { #expect(store.record(samplePrediction(index, inputBytes: inputBytes))) }
    await store.flush()
}

/// Labels for the predictions in `range`.
func labels(_ range: Range<Int>, label: String = "7") -> [FeedbackInput] {
    range.map { FeedbackInput(predictionID: "req-\($0)", label: label, time: 1_800_000_100_000 + Int64($0)) }
}

/// Runs a shell command and returns its standard output; fails the test on a non-zero exit.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readAllRetryingInterrupts()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw StoreTestFailure("\(executable) exited with \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// A failed test precondition, with a message.
struct StoreTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
