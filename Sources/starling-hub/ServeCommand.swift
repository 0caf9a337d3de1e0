import ArgumentParser
import Foundation
import Hub

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the REST API (/api/v1), /health and /metrics until SIGINT or SIGTERM.")

    @OptionGroup var options: DataOptions
    @Option(help: "The address to bind (default: $STARLING_HUB_HOST or 127.0.0.1).")
    var host: String?
    @Option(help: "The TCP port; 0 picks a free one (default: $STARLING_HUB_PORT or 8080).")
    var port: Int?

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be within 0...65535, not \(port)") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var configuration = options.configuration
        if let host = host ?? environment["STARLING_HUB_HOST"] { configuration.http.host = host }
        if let text = port.map(String.init) ?? environment["STARLING_HUB_PORT"] {
            guard let value = Int(text) else { throw ValidationError("STARLING_HUB_PORT '\(text)' is not a port number") }
            configuration.http.port = value
        }
        let services = try await HubServices.open(configuration)
        defer { services.close() }
        let host = configuration.http.host
        try await HubAPI.serve(services: services) { port in
            FileHandle.standardOutput.write(Data("listening on \(host):\(port)\n".utf8))
        }
    }
}
