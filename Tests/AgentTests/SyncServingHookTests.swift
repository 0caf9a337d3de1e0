import NIOCore
import Testing

@testable import Agent

/// The serving path feeds the window: answered predictions with their latency, and failures.
@Suite("Sync telemetry window in the serving path")
struct SyncServingHookTests {
    static func respond(_ responder: OIPResponder, _ body: String) async -> Int {
        let request = HTTPRequestMessage(
            method: "POST", target: "/v2/models/digits/infer", inferenceHeaderLength: nil, contentEncoding: nil,
            body: ByteBuffer(string: body))
        return await withCheckedContinuation { continuation in
            responder.respond(request) { response in continuation.resume(returning: response.status) }
        }
    }

    @Test("an answered request counts as a prediction; one that fails the model's signature as a failure")
    func hook() async throws {
        let registry = ModelRegistry(metrics: ServingMetrics())
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        let window = TelemetryWindow()
        let responder = OIPResponder(registry: registry, log: nil, metrics: ServingMetrics(), telemetry: window)
        #expect(await Self.respond(responder, OIPBodies.json(pixels: OIPFixtures.pixels(rows: 1))) == 200)
        let wrongShape = #"{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#
        #expect(await Self.respond(responder, wrongShape) == 400)
        #expect(await Self.respond(responder, "not json") == 400)
        let snapshot = window.snapshotAndReset()
        #expect(snapshot.predictions == 1 && snapshot.failures == 1, "an undecodable body is not a prediction request")
        #expect(snapshot.latencyP50Ms > 0)
    }
}
