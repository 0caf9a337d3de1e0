import Core
import Foundation
import Testing

@testable import Agent

/// The pure checks before a federated task trains, the epoch cap, and the training thread.
@Suite("Federated admission")
struct FederatedAdmissionTests {
    static let task = FLTask(
        id: "t-1", time: 1000, roundId: "r-1", modelName: try! ModelName("digits"), baseVersion: "1.0.0", deadline: 10_000,
        localEpochs: 5, batchSize: 16, learningRate: 0.1, minExamples: 20, maxTrainingSeconds: 60,
        layoutDigest: String(repeating: "a", count: 64), globalSize: 0, globalSha256: String(repeating: "b", count: 64))

    static func context(_ change: (inout FederatedAdmission.Context) -> Void = { _ in }) -> FederatedAdmission.Context {
        var context = FederatedAdmission.Context(
            enabled: true, hasKey: true, policy: FederatedBench.policy, idle: true, onMains: true, installedVersion: "1.0.0",
            now: 2000)
        change(&context)
        return context
    }

    @Test(
        "each refusal names its cause",
        arguments: [
            ("federated.enabled", FederatedAdmissionTests.context { $0.enabled = false }),
            ("device.keyFile", FederatedAdmissionTests.context { $0.hasKey = false }),
            ("deadline", FederatedAdmissionTests.context { $0.now = 10_000 }),
            ("does not allow training", FederatedAdmissionTests.context { $0.policy.allowed = false }),
            (
                "mains power",
                FederatedAdmissionTests.context {
                    $0.policy.onlyOnMainsPower = true; $0.onMains = false
                }
            ),
            (
                "idle",
                FederatedAdmissionTests.context {
                    $0.policy.onlyWhenIdle = true; $0.idle = false
                }
            ),
            ("not installed", FederatedAdmissionTests.context { $0.installedVersion = nil }),
        ])
    func refusals(expected: String, context: FederatedAdmission.Context) {
        let reason = FederatedAdmission.precheck(Self.task, context)
        #expect(reason?.contains(expected) == true, "\(reason ?? "nil")")
    }

    @Test("a device that may train takes the task; power and idleness matter only when the profile says so")
    func accepted() {
        #expect(FederatedAdmission.precheck(Self.task, Self.context()) == nil)
        #expect(
            FederatedAdmission.precheck(
                Self.task,
                Self.context {
                    $0.onMains = false; $0.idle = false
                }) == nil)
    }

    @Test("evaluate tasks run even where the profile forbids training")
    func evaluateWithoutTraining() {
        var task = Self.task
        task.kind = "evaluate"
        #expect(FederatedAdmission.precheck(task, Self.context { $0.policy.allowed = false }) == nil)
    }

    @Test("data checks: layout first, then the example count")
    func dataChecks() {
        let digest = Self.task.layoutDigest
        #expect(FederatedAdmission.checkData(Self.task, examples: 20, layoutDigest: digest) == nil)
        #expect(FederatedAdmission.checkData(Self.task, examples: 19, layoutDigest: digest)?.contains("19 labelled") == true)
        #expect(
            FederatedAdmission.checkData(Self.task, examples: 100, layoutDigest: String(repeating: "c", count: 64))?
                .contains("layout") == true)
    }

    @Test("the budget is the smaller of the task's and the profile's limit")
    func budget() {
        var policy = FederatedBench.policy
        policy.maxSeconds = 30
        #expect(FederatedAdmission.budgetSeconds(Self.task, policy: policy) == 30)
        policy.maxSeconds = 600
        #expect(FederatedAdmission.budgetSeconds(Self.task, policy: policy) == 60)
        var open = Self.task
        open.maxTrainingSeconds = nil
        #expect(FederatedAdmission.budgetSeconds(open, policy: policy) == 600)
    }

    @Test(
        "epochs are capped to 80 % of the budget; none fits → nil",
        arguments: [(5, 1.0, 60.0, 5), (5, 10.0, 60.0, 4), (5, 20.0, 60.0, 2), (5, 48.0, 60.0, 1), (5, 49.0, 60.0, nil)]
            as [(Int, Double, Double, Int?)])
    func epochs(requested: Int, perEpoch: Double, budget: Double, expected: Int?) {
        #expect(FederatedAdmission.epochs(requested: requested, secondsPerEpoch: perEpoch, budget: budget) == expected)
    }

    @Test("training must stop at nine tenths of the budget or of the time left before the task's deadline")
    func trainingDeadline() {
        let start = ContinuousClock.now
        #expect(FederatedAdmission.trainingDeadline(from: start, budget: 60, untilTaskDeadline: 600) == start + .seconds(54))
        #expect(FederatedAdmission.trainingDeadline(from: start, budget: 60, untilTaskDeadline: 10) == start + .seconds(9))
        #expect(FederatedAdmission.trainingDeadline(from: start, budget: 60, untilTaskDeadline: -5) == start)
        #expect(FederatedAdmission.trainingDeadline(from: start, budget: 0, untilTaskDeadline: 600) == nil)
    }

    @Test("the memory estimate counts the feeds and seven copies of the parameters")
    func memory() {
        let feeds = ["input": Tensor(shape: [10, 64], repeating: 0)]
        #expect(FederatedAdmission.memoryBytes(feeds: feeds, parameters: 100) == 4 * 640 + 4 * 700)
    }

    @Test("the training thread runs at the configured nice value, off the calling thread")
    func trainingThreadNiceness() async {
        let caller = TrainingThread.currentThreadID()
        let (thread, nice) = await TrainingThread.run(niceness: 7) {
            (TrainingThread.currentThreadID(), TrainingThread.currentNiceness())
        }
        #expect(thread != nil && thread != caller)
        #expect(nice == 7)
        // The caller's own priority is untouched.
        #expect(TrainingThread.currentNiceness() != 7)
    }

    @Test("the residual file round-trips and refuses another layout")
    func residualFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("starling-res-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = ParameterLayout(graph: FederatedBench.model.graph)
        let file = ResidualFile(directory: directory, model: "digits")
        #expect(file.read(layout: layout) == nil)
        let values = (0..<layout.count).map { Float($0 % 7) - 3.5 }
        try file.write(values, layout: layout)
        #expect(file.read(layout: layout) == values)
        let other = ParameterLayout(graph: OIPFixtures.digitsModelB.graph)
        #expect(file.read(layout: other) == nil)
    }
}
