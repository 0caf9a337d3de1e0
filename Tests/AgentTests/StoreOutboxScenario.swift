import Agent
import Core
import Foundation
import Testing

// Shared by the in-memory unit tests (AgentTests) and the Mosquitto integration tests, which
// compile this same file: only public API of Agent and Core, and `MessageTransport`.

/// What the outbox scenarios need from a broker implementation.
struct OutboxScenarioHarness: Sendable {
    /// A new, unconnected transport with a persistent session for `clientID`.
    var makeTransport: @Sendable (_ clientID: String) async throws -> any MessageTransport
    /// Takes the broker down (clients lose their connections; sessions survive).
    var stopBroker: @Sendable () async throws -> Void
    /// Brings it back; clients reconnect by themselves.
    var startBroker: @Sendable () async throws -> Void
    /// A temporary directory for the store's file.
    var directory: String
    /// How many 1 ms polls to wait for an expected effect before failing (a bound against
    /// hangs, not a timing assertion).
    var patience = 60_000
}

/// Thrown when an expected effect does not happen within the patience.
struct OutboxScenarioTimeout: Error, CustomStringConvertible {
    var description: String
}

/// Polls `condition` every millisecond until it holds; throws after `patience` polls.
func pollUntil(_ what: String, patience: Int = 60_000, _ condition: @Sendable () async throws -> Bool) async throws {
    for _ in 0..<patience {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    throw OutboxScenarioTimeout(description: "gave up waiting until \(what)")
}

/// What a hub sees on the feedback topic: every message, and whether anything is missing or
/// repeated under another id.
actor FeedbackSubscriber {
    private(set) var messages = 0
    private var payloadByID: [String: [UInt8]] = [:]
    private var rowsByPrediction: [String: Int] = [:]
    /// Messages received again with the same id and the same bytes (harmless QoS 1 repeats).
    private(set) var repeatsWithSameID = 0
    /// Messages that reused an id with other bytes (must never happen).
    private(set) var conflictingRepeats = 0
    /// Payloads on a feedback topic that are not valid feedback batches (must never happen).
    private(set) var undecodable = 0
    /// Messages on other topics (events).
    private(set) var otherMessages = 0

    /// A subscriber consuming `transport`'s messages in the background.
    static func draining(_ transport: any MessageTransport) -> FeedbackSubscriber {
        let subscriber = FeedbackSubscriber()
        Task {
            for await message in transport.messages { await subscriber.receive(message) }
        }
        return subscriber
    }

    private func receive(_ message: Message) {
        messages += 1
        guard message.topic.hasSuffix("/feedback") else {
            otherMessages += 1
            return
        }
        guard let batch = try? MessageCodec.decode(FeedbackBatch.self, from: message.payload) else {
            undecodable += 1
            return
        }
        if let previous = payloadByID[batch.id] {
            if previous == message.payload { repeatsWithSameID += 1 } else { conflictingRepeats += 1 }
            return
        }
        payloadByID[batch.id] = message.payload
        for row in batch.rows { rowsByPrediction[row.predictionId, default: 0] += 1 }
    }

    /// Distinct labelled predictions received.
    var uniqueRows: Int { rowsByPrediction.count }
    /// Predictions that arrived in two different messages (must never happen).
    var rowsUnderTwoIDs: Int { rowsByPrediction.values.filter { $0 > 1 }.count }
    /// Distinct message ids received.
    var uniqueMessages: Int { payloadByID.count }
    /// Whether the label of `predictionID` arrived.
    func received(_ predictionID: String) -> Bool { rowsByPrediction[predictionID] != nil }
}

enum OutboxScenarios {
    /// The broker goes down while `rows` labels are produced; after it is back every label reaches
    /// the hub's subscriber, none is missing, and repeats only ever carry the same message id.
    static func brokerDownWhileLabelling(_ harness: OutboxScenarioHarness, rows: Int = 10_000) async throws {
        let hub = try await harness.makeTransport("hub")
        try await hub.subscribe(Subscription.filter(forEvery: .feedback), qos: .atLeastOnce)
        try await hub.connect()
        let subscriber = FeedbackSubscriber.draining(hub)
        let device = try await harness.makeTransport("dev-1")
        try await device.connect()
        let store = try await AgentStore.open(StoreConfiguration(path: "\(harness.directory)/agent.sqlite"))
        // In chunks the writer's queue can hold, so no prediction is dropped.
        for start in stride(from: 0, to: rows, by: 1000) {
            for index in start..<min(rows, start + 1000) {
                let recorded = store.record(
                    PredictionRecord(
                        requestID: "req-\(index)", time: Int64(index), modelName: "digits", modelVersion: "1.0.0",
                        inputs: "[\(index)]", outputs: "[0]", latencyMicroseconds: 100))
                #expect(recorded)
            }
            await store.flush()
        }
        let drainer = OutboxDrainer(
            store: store, transport: device, device: try DeviceID("dev-1"),
            options: .init(retryDelay: .milliseconds(50)))
        let runner = Task { await drainer.run(clock: ContinuousClock()) }

        try await harness.stopBroker()
        for start in stride(from: 0, to: rows, by: 100) {
            let items = (start..<min(rows, start + 100)).map {
                FeedbackInput(predictionID: "req-\($0)", label: String($0 % 10), time: Int64($0))
            }
            let results = try await store.attachFeedback(items)
            #expect(results.allSatisfy { $0 == .attached })
        }
        #expect(await subscriber.uniqueRows == 0)
        #expect(try await store.feedbackCounts().sent == 0)

        try await harness.startBroker()
        try await pollUntil("\(rows) labels arrived", patience: harness.patience) { await subscriber.uniqueRows == rows }
        try await pollUntil("the outbox is empty", patience: harness.patience) { try await store.outboxCount() == 0 }
        try await pollUntil("every label is marked sent", patience: harness.patience) {
            try await store.feedbackCounts().sent == rows
        }
        #expect(await subscriber.rowsUnderTwoIDs == 0)
        #expect(await subscriber.conflictingRepeats == 0)
        #expect(await subscriber.undecodable == 0)

        runner.cancel()
        await device.close()
        await hub.close()
        await runner.value
        await store.close()
    }
}
