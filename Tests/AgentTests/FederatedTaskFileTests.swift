import Core
import Foundation
import Testing

@testable import Agent

/// Writes a fit task frame for a model file, for `scripts/fl-agent-rss.sh` (which publishes it
/// to a real agent with `mosquitto_pub`). Runs only when `STARLING_FL_TASK_OUT` names the output
/// and `STARLING_FL_MODEL` the model file.
@Suite("Federated task file")
struct FederatedTaskFileTests {
    static let environment = ProcessInfo.processInfo.environment

    @Test(
        "writes a task frame carrying the model's parameters",
        .enabled(
            if: FederatedTaskFileTests.environment["STARLING_FL_TASK_OUT"] != nil
                && FederatedTaskFileTests.environment["STARLING_FL_MODEL"] != nil))
    func writeTaskFrame() throws {
        let model = try ModelFile.read(path: Self.environment["STARLING_FL_MODEL"]!)
        let output = Self.environment["STARLING_FL_TASK_OUT"]!
        let epochs = Int(Self.environment["STARLING_FL_EPOCHS"] ?? "") ?? 5
        let layout = ParameterLayout(graph: model.graph)
        var none: [Float]?
        let payload = try UpdateCodec.encode(try layout.flatten(model.graph), layout: layout, as: .float32, residual: &none)
        let now = StoreConfiguration.wallClockMilliseconds()
        let task = FLTask(
            id: "rss-task-\(now)", time: now, roundId: "rss-round", kind: "fit", modelName: try ModelName(model.metadata.name),
            baseVersion: "1.0.0", deadline: now + 600_000, localEpochs: epochs, batchSize: 32, learningRate: 0.05,
            encoding: "int8", minExamples: 20, layoutDigest: layout.digest, globalSize: payload.count,
            globalSha256: PackageDigest.sha256(payload))
        let bytes = try FLTaskFrame(task: task, payload: payload).encoded()
        try FileIO.writeAtomically(bytes, to: output)
        #expect(try FLTaskFrame(parsing: try FileIO.read(output)).task.layoutDigest == layout.digest)
    }
}
