import ArgumentParser
import Foundation
import Hub

/// Where the hub keeps its data, shared by every command.
struct DataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "The hub's data directory (default: $STARLING_HUB_DATA or ./starling-hub-data).")
    var data: String?

    /// The configuration for the chosen directory.
    var configuration: HubConfiguration {
        HubConfiguration(
            dataDirectory: data ?? ProcessInfo.processInfo.environment["STARLING_HUB_DATA"] ?? "starling-hub-data")
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens (run on the hub's machine, with access to its data directory).",
        subcommands: [TokenCreate.self, TokenList.self, TokenRevoke.self])
}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a token and print its secret once (it is stored only hashed).")

    @OptionGroup var options: DataOptions
    @Option(help: "The role: viewer, operator or admin.")
    var role: Role
    @Option(help: "Who the token stands for; the audit log records this name.")
    var subject: String
    @Option(help: "Days until the token expires (default: never).")
    var expiresInDays: Int?

    func validate() throws {
        if let expiresInDays, expiresInDays < 1 { throw ValidationError("--expires-in-days must be at least 1") }
    }

    func run() async throws {
        let configuration = options.configuration
        let (database, tokens) = try await HubServices.openTokens(configuration)
        defer { database.close() }
        let expiresAt = expiresInDays.map { configuration.now() + Int64($0) * 86_400_000 }
        let issued = try await tokens.create(
            subject: subject, role: role, expiresAt: expiresAt, by: .localCommandLine)
        FileHandle.standardError.write(
            Data(
                "Created token \(issued.record.id) for '\(subject)' (\(role.rawValue)). Store the secret now: it is not shown again.\n"
                    .utf8))
        print(issued.secret)
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens (never their secrets).")

    @OptionGroup var options: DataOptions

    func run() async throws {
        let (database, tokens) = try await HubServices.openTokens(options.configuration)
        defer { database.close() }
        let now = options.configuration.now()
        var rows: [[String]] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await tokens.list(page: page, by: .localCommandLine)
            for token in result.items {
                let state = token.revokedAt != nil ? "revoked" : (token.isActive(at: now) ? "active" : "expired")
                rows.append([
                    token.id, token.subject, token.role.rawValue, Self.date(token.createdAt),
                    token.expiresAt.map(Self.date) ?? "never", state,
                ])
            }
            guard let next = result.next else { break }
            page.cursor = next
        }
        print(Self.table(["id", "subject", "role", "created", "expires", "state"], rows))
    }

    static func date(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}

struct TokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token; it stops working at once.")

    @OptionGroup var options: DataOptions
    @Argument(help: "The token id (the 16 hex digits after stk_).")
    var id: String

    func run() async throws {
        let (database, tokens) = try await HubServices.openTokens(options.configuration)
        defer { database.close() }
        let record = try await tokens.revoke(id: id, by: .localCommandLine)
        print("Revoked token \(record.id) of '\(record.subject)'.")
    }
}

extension Role: ExpressibleByArgument {}
