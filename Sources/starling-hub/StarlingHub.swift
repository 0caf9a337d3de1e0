import ArgumentParser
import Hub

@main
struct StarlingHub: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "starling-hub",
        abstract: "The Starling hub.",
        version: HubVersion.current)
}
