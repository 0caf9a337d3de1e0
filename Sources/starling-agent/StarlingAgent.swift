import Agent
import ArgumentParser
import Core

@main
struct StarlingAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling-agent",
        abstract: "The Starling device agent.",
        version: AgentVersion.current,
        subcommands: [Run.self, CheckConfig.self, ConfigKeys.self, Serve.self, Simulate.self, Info.self])

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What this agent build supports on this machine.")

        func run() {
            print("starling-agent \(AgentVersion.current)")
            print("model format  \(AgentVersion.modelFormat.major).\(AgentVersion.modelFormat.minor)")
            print(
                "int8 backends \(KernelBackend.available.map(\.rawValue).joined(separator: ", ")) (best: \(KernelBackend.best))")
        }
    }
}
