import Core
import Testing

@Suite("Digits end to end")
struct DigitsTrainingTests {
    @Test("MLP 64-128-64-10 reaches 97 % and int8 agrees with fp32")
    func mlpTrainsAndQuantizes() throws {
        let (train, test) = TestSupport.digits
        let pipeline = try FeatureRecipe(scaling: .divide(16)).fit(train.features)
        let encoder = ClassEncoder(fitting: train.labels)
        let x = try pipeline.transform(train.features)
        let y = Targets.classes(try encoder.encode(train.labels))
        let xt = try pipeline.transform(test.features)
        let yt = Targets.classes(try encoder.encode(test.labels))
        var graph = try ModelBuilder.build(.mlp(hidden: [128, 64]), inputShape: [64], outputs: 10, seed: 7)
        let trainer = Trainer(config: TrainingConfig(epochs: 40, batchSize: 32, optimizer: .adam(learningRate: 2e-3), seed: 7))
        let clock = ContinuousClock()
        let start = clock.now
        let reports = try trainer.fit(&graph, feeds: x, targets: y)
        print("training:", start.duration(to: clock.now), "final loss", reports.last!.trainLoss)
        let result = try Evaluator(graph: graph, loss: .softmaxCrossEntropy).evaluate(xt, yt)
        print("fp32 test accuracy", result.accuracy!)
        #expect(result.accuracy! >= 0.97)

        let model = Model(metadata: ModelMetadata(name: "digits"), features: pipeline, graph: graph)
        let quantized = try Quantizer().quantize(model, calibrationFeeds: x)
        let floatOut = try FloatRunner(graph: graph).run(xt)[0].argmaxRows()
        for backend in KernelBackend.available {
            let program = try Int8Program(model: quantized, backend: backend)
            let out = try program.run(xt, workspace: program.makeWorkspace())[0]
            let agree = zip(out.argmaxRows(), floatOut).filter { $0 == $1 }.count
            print(backend, program.stepKinds, "agreement", agree, "/", floatOut.count)
            #expect(Double(agree) / Double(floatOut.count) >= 0.995)
        }
    }
}
