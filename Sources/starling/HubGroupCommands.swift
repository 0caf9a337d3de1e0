import ArgumentParser
import Foundation

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group",
        abstract: "Device groups: a name and a label selector; members are the enrolled devices that match.",
        subcommands: [GroupSet.self, GroupList.self, GroupShow.self, GroupRemove.self])
}

struct GroupSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Create a group or change its selector.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The group's name (its topics are starling/v1/groups/NAME/...).")
    var name: String
    @Argument(help: "The label selector, e.g. 'site=north,tier in (canary,beta)'; empty matches every device.")
    var selector: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(
                HubRequest("PUT", ["groups", name], body: .json(.object(["selector": .string(selector)]))))
            try hub.show(answer) {
                let group = try answer.decode(GroupRecord.self)
                return "Group \(group.name): \(group.selector.isEmpty ? "(every device)" : group.selector)"
            }
        }
    }
}

struct GroupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List groups with their member counts.")

    @OptionGroup var hub: HubOptions

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["groups"], paging: nil)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["name", "selector", "members", "updated", "by"],
                    try listing.decode(GroupRecord.self).map {
                        [
                            $0.name, $0.selector.isEmpty ? "(every device)" : $0.selector, $0.members.map(String.init) ?? "-",
                            HubOutput.time($0.updatedAt), $0.updatedBy ?? "-",
                        ]
                    })
            }
        }
    }
}

struct GroupShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a group and its devices.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The group's name.")
    var name: String

    func run() async throws {
        try await hub.run { client in
            let answer = try await client.json(HubRequest("GET", ["groups", name]))
            try hub.show(answer) {
                let group = try answer.decode(GroupRecord.self)
                let header = HubOutput.fields([
                    ("name", group.name), ("selector", group.selector.isEmpty ? "(every device)" : group.selector),
                    ("updated", HubOutput.time(group.updatedAt) + (group.updatedBy.map { " by " + $0 } ?? "")),
                    ("members", String(group.devices?.count ?? group.members ?? 0)),
                ])
                return header + "\n\n" + FleetRender.table(group.devices ?? [])
            }
        }
    }
}

struct GroupRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a group (devices stay; they lose its topics).")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The group's name.")
    var name: String

    func run() async throws {
        try await hub.run { client in
            _ = try await client.send(HubRequest("DELETE", ["groups", name]))
            try hub.show(.object(["removed": .string(name)])) { "Removed group \(name)." }
        }
    }
}
