import ArgumentParser
import Foundation

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke the hub's API tokens (admin).",
        subcommands: [TokenCreate.self, TokenList.self, TokenRevoke.self])
}

struct TokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a token and print its secret, once: the hub keeps only its hash.",
        discussion:
            "The secret goes to standard output alone, so `starling token create ... > bob.token` keeps it off the screen.")

    @OptionGroup var hub: HubOptions
    @Option(help: "The role: viewer, operator or admin.")
    var role: String
    @Option(help: "Who the token stands for; the audit log records this name.")
    var subject: String
    @Option(help: "Days until the token expires (default: never).")
    var expiresInDays: Int?

    func validate() throws {
        guard ["viewer", "operator", "admin"].contains(role) else {
            throw ValidationError("--role must be viewer, operator or admin, not '\(role)'")
        }
        if let expiresInDays, expiresInDays < 1 { throw ValidationError("--expires-in-days must be at least 1") }
    }

    func run() async throws {
        var body: [String: JSONValue] = ["role": .string(role), "subject": .string(subject)]
        if let expiresInDays {
            body["expiresAt"] = .integer(Int64(Date().timeIntervalSince1970 * 1000) + Int64(expiresInDays) * 86_400_000)
        }
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["tokens"], body: .json(.object(body))))
            let issued = try answer.decode(IssuedTokenRecord.self)
            if hub.json {
                print(HubOutput.json(answer))
            } else {
                Output.note(
                    "Created token \(issued.token.id) for '\(issued.token.subject)' (\(issued.token.role)). "
                        + "Store the secret now: it is not shown again.")
                print(issued.secret)
            }
        }
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List tokens, oldest first (never their secrets).")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["tokens"], paging: list)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["id", "subject", "role", "created", "expires", "state"],
                    try listing.decode(TokenRecord.self).map {
                        [
                            $0.id, $0.subject, $0.role, HubOutput.time($0.createdAt),
                            $0.expiresAt.map { HubOutput.time($0) } ?? "never",
                            $0.state(now: now),
                        ]
                    })
            }
        }
    }
}

struct TokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a token; it stops working at once.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The token's id (the 16 hex digits after stk_).")
    var id: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("DELETE", ["tokens", id]))
            try hub.show(answer) {
                let token = try answer.decode(TokenRecord.self)
                return "Revoked token \(token.id) of '\(token.subject)'."
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read the hub's audit log, newest first (operator).")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions
    @Option(help: "Only this target and what is under it (model/digits, device/pi-7, token/<id>).")
    var target: String?
    @Option(help: "Only changes by this subject.")
    var subject: String?
    @Option(help: "Only this action (e.g. alias.set, version.registered).")
    var action: String?

    func run() async throws {
        var query: [(String, String)] = []
        if let target { query.append(("target", target)) }
        if let subject { query.append(("subject", subject)) }
        if let action { query.append(("action", action)) }
        try await hub.run { client in
            let listing = try await client.list(["audit"], query: query, paging: list)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["id", "time", "subject", "action", "target"],
                    try listing.decode(AuditRecord.self).map {
                        [String($0.id), HubOutput.time($0.time), $0.subject, $0.action, $0.target]
                    })
            }
        }
    }
}
