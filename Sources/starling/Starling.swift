import ArgumentParser
import Core

@main
struct Starling: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling",
        abstract: "Starling: train, import, quantize and run edge models; operate the fleet.",
        version: "0.1.0",
        subcommands: [
            ModelCommand.self, PackageCommand.self, KeysCommand.self, DeviceCommand.self, RegistryCommand.self,
            FleetCommand.self, GroupCommand.self, RolloutCommand.self, RoundCommand.self, TokenCommand.self, AuditCommand.self,
            DatasetCommand.self, SimulateCommand.self,
        ])
}

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Train, import, quantize, evaluate, inspect and run model files.",
        subcommands: [Train.self, Import.self, Quantize.self, Evaluate.self, Predict.self, Inspect.self, Compare.self])
}
