import ArgumentParser
import Hub

@main
struct StarlingHub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling-hub",
        abstract: "The Starling hub.",
        version: HubVersion.current,
        subcommands: [ServeCommand.self, TokenCommand.self, FleetCommand.self, ConfigKeysCommand.self, BrokerConfigCommand.self])
}
