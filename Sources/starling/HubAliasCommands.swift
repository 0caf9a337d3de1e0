import ArgumentParser
import Foundation

// MARK: - Tags

struct RegistryTag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Set a tag (key=value) on a version.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The version.") var version: String
    @Argument(help: "The tag's key.") var key: String
    @Argument(help: "The tag's value.") var value: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(
                HubRequest(
                    "PUT", ["models", model, "versions", version, "tags", key], body: .json(.object(["value": .string(value)]))))
            try hub.show(answer) { "Tagged \(model) \(version) \(key)=\(value)." }
        }
    }
}

struct RegistryUntag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "untag", abstract: "Remove a tag from a version.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The version.") var version: String
    @Argument(help: "The tag's key.") var key: String

    func run() async throws {
        try await hub.run { client in
            _ = try await client.send(HubRequest("DELETE", ["models", model, "versions", version, "tags", key]))
            try hub.show(.object(["removed": .string(key)])) { "Removed tag \(key) from \(model) \(version)." }
        }
    }
}

// MARK: - Aliases

struct RegistryAlias: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Point an alias (canary, staging, ...) at a version.",
        discussion: "With four-eyes on, `production` needs an approval: starling registry request-approval.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The alias (a-z 0-9 . _ -).") var alias: String
    @Argument(help: "The version it points at.") var version: String

    func run() async throws {
        try await hub.run { client in
            do {
                let answer = try await client.json(
                    HubRequest("PUT", ["models", model, "aliases", alias], body: .json(.object(["version": .string(version)]))))
                try hub.show(answer) { "\(model) \(alias) -> \(version)" }
            } catch let error as HubError where error.kind == .api(status: 409, code: "approvalRequired") {
                Output.note(error.description)
                Output.note("Ask for it: starling registry request-approval \(model) --alias \(alias) --version \(version)")
                throw ExitCode.failure
            }
        }
    }
}

struct RegistryAliases: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aliases", abstract: "List a model's aliases.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("GET", ["models", model, "aliases"]))
            // The hub answers a plain array; accept a page too.
            let items: JSONValue = if case .array = answer { answer } else { answer["items"] ?? .array([]) }
            try hub.show(items) {
                HubOutput.table(
                    ["alias", "version", "set", "by"],
                    try items.decode([AliasRecord].self).map { [$0.name, $0.version, HubOutput.time($0.setAt), $0.setBy] })
            }
        }
    }
}

struct RegistryUnalias: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unalias", abstract: "Clear an alias.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The alias.") var alias: String

    func run() async throws {
        try await hub.run { client in
            _ = try await client.send(HubRequest("DELETE", ["models", model, "aliases", alias]))
            try hub.show(.object(["cleared": .string(alias)])) { "Cleared \(model) \(alias)." }
        }
    }
}

// MARK: - Approvals

struct RegistryApprovals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List a model's approval requests, newest first.")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions
    @Argument(help: "The model's name.") var model: String
    @Option(help: "Only requests in this state: pending, approved or rejected.")
    var state: String?

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(
                ["models", model, "approvals"], query: state.map { [("state", $0)] } ?? [], paging: list)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["id", "alias", "version", "state", "requested by", "requested", "decided by", "note"],
                    try listing.decode(ApprovalRecord.self).map {
                        [
                            String($0.id), $0.alias, $0.version, $0.state, $0.requestedBy, HubOutput.time($0.requestedAt),
                            $0.decidedBy ?? "-", $0.note.flatMap { $0.isEmpty ? nil : $0 } ?? "-",
                        ]
                    })
            }
        }
    }
}

struct RegistryRequestApproval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request-approval",
        abstract: "Ask for an alias (normally production) to point at a version; another person approves.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Option(help: "The alias.") var alias = "production"
    @Option(help: "The version.") var version: String
    @Option(help: "Why, for the approver (stored as the request's note).") var reason: String?

    func run() async throws {
        var body: [String: JSONValue] = ["version": .string(version), "alias": .string(alias)]
        if let reason { body["note"] = .string(reason) }
        try await hub.run { client in
            let answer = try await client.json(HubRequest("POST", ["models", model, "approvals"], body: .json(.object(body))))
            try hub.show(answer) {
                let approval = try answer.decode(ApprovalRecord.self)
                return "Requested approval \(approval.id): \(model) \(approval.alias) -> \(approval.version). "
                    + "Another person approves it: starling registry approve \(model) \(approval.id)"
            }
        }
    }
}

struct RegistryApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve a request and point its alias at its version (not your own request).")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The approval's id.") var id: Int64
    @Option(help: "Why.") var reason: String?

    func run() async throws {
        try await hub.run { client in
            let answer = try await ApprovalDecision.post(client, model: model, id: id, verb: "approve", reason: reason)
            try hub.show(answer) {
                let approval = try answer.decode(ApprovalRecord.self)
                return "Approved \(approval.id): \(model) \(approval.alias) -> \(approval.version)."
            }
        }
    }
}

struct RegistryReject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject", abstract: "Reject a request (or withdraw your own).")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.") var model: String
    @Argument(help: "The approval's id.") var id: Int64
    @Option(help: "Why.") var reason: String?

    func run() async throws {
        try await hub.run { client in
            let answer = try await ApprovalDecision.post(client, model: model, id: id, verb: "reject", reason: reason)
            try hub.show(answer) {
                let approval = try answer.decode(ApprovalRecord.self)
                return "Rejected \(approval.id): \(model) \(approval.alias) stays where it was."
            }
        }
    }
}

/// `POST .../approvals/{id}/approve` or `/reject`.
enum ApprovalDecision {
    static func post(_ client: HubClient, model: String, id: Int64, verb: String, reason: String?) async throws(HubError)
        -> JSONValue
    {
        let body: JSONValue = .object(reason.map { ["reason": .string($0)] } ?? [:])
        return try await client.json(HubRequest("POST", ["models", model, "approvals", String(id), verb], body: .json(body)))
    }
}
