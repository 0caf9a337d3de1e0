import ArgumentParser
import Core
import Foundation

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry",
        abstract: "The hub's model registry: models, versions, tags, aliases and production approvals.",
        subcommands: [
            RegistryModels.self, RegistryModel.self, RegistryCreate.self, RegistryVersions.self, RegistryVersion.self,
            RegistryUpload.self, RegistryDownload.self, RegistryTag.self, RegistryUntag.self, RegistryAlias.self,
            RegistryAliases.self, RegistryUnalias.self, RegistryApprovals.self, RegistryRequestApproval.self,
            RegistryApprove.self, RegistryReject.self, RegistryTrain.self,
        ])
}

struct RegistryModels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "List models in name order.")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["models"], paging: list)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["name", "owner", "four-eyes", "created", "description"],
                    try listing.decode(ModelRecord.self).map {
                        [
                            $0.name, $0.owner.isEmpty ? "-" : $0.owner, $0.fourEyes ? "yes" : "no", HubOutput.time($0.createdAt),
                            $0.description,
                        ]
                    })
            }
        }
    }
}

struct RegistryModel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Show one model.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.")
    var name: String

    func run() async throws {
        try await hub.run { client in
            let value = try await client.json(HubRequest("GET", ["models", name]))
            try hub.show(value) { RegistryRender.model(try value.decode(ModelRecord.self)) }
        }
    }
}

struct RegistryCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a model (operator; turning four-eyes off needs admin).")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name (1-64 of A-Z a-z 0-9 . _ -).")
    var name: String
    @Option(help: "Free text for people.")
    var description: String?
    @Option(help: "Who is responsible for it (a person or a team).")
    var owner: String?
    @Flag(
        inversion: .prefixedNo,
        help:
            "Whether pointing `production` at a version needs a second person's approval (default: the hub's setting, normally on)."
    )
    var fourEyes: Bool?

    func run() async throws {
        var body: [String: JSONValue] = ["name": .string(name)]
        if let description { body["description"] = .string(description) }
        if let owner { body["owner"] = .string(owner) }
        if let fourEyes { body["fourEyes"] = .bool(fourEyes) }
        try await hub.run { client in
            let value = try await client.json(HubRequest("POST", ["models"], body: .json(.object(body))))
            try hub.show(value) {
                let model = try value.decode(ModelRecord.self)
                return "Created model \(model.name) (four-eyes \(model.fourEyes ? "on" : "off"))."
            }
        }
    }
}

struct RegistryVersions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "versions", abstract: "List a model's versions, newest first.")

    @OptionGroup var hub: HubOptions
    @OptionGroup var list: ListOptions
    @Argument(help: "The model's name.")
    var model: String

    func run() async throws {
        try await hub.run { client in
            let listing = try await client.list(["models", model, "versions"], paging: list)
            try hub.show(listing.json) {
                HubOutput.table(
                    ["version", "registered", "by", "package", "size", "tags"],
                    try listing.decode(VersionRecord.self).map {
                        [
                            $0.version, HubOutput.time($0.registeredAt), $0.registeredBy, String($0.packageId.prefix(16)),
                            Output.bytes($0.package.size), HubOutput.labels($0.tags),
                        ]
                    })
            }
        }
    }
}

struct RegistryVersion: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version", abstract: "Show one version: files, lineage, tags, metadata.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.")
    var model: String
    @Argument(help: "The version (MAJOR.MINOR.PATCH).")
    var version: String

    func run() async throws {
        try await hub.run { client in
            let value = try await client.json(HubRequest("GET", ["models", model, "versions", version]))
            try hub.show(value) { RegistryRender.version(try value.decode(VersionRecord.self)) }
        }
    }
}

struct RegistryDownload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a version's model file, or with --package its signed package, checking its SHA-256.")

    @OptionGroup var hub: HubOptions
    @Argument(help: "The model's name.")
    var model: String
    @Argument(help: "The version.")
    var version: String
    @Flag(help: "Download the signed package (what devices install) instead of the model file.")
    var package = false
    @Option(name: .shortAndLong, help: "The file to write.")
    var output: String

    func run() async throws {
        try await hub.run { client in
            let what = package ? "package" : "model"
            let response = try await client.send(HubRequest("GET", ["models", model, "versions", version, what]))
            let digest = PackageDigest.sha256(response.body)
            if let etag = response.headers["etag"].map({ $0.replacing("W/", with: "").replacing("\"", with: "") }),
                etag.count == 64, etag != digest
            {
                throw HubError(.local, "the download's SHA-256 \(digest) is not the \(etag) the hub announced; nothing written")
            }
            do throws(ModelError) {
                try FileIO.writeAtomically(response.body, to: output)
            } catch {
                throw HubError(.local, error.message)
            }
            var summary: [String: JSONValue] = [
                "file": .string(output), "bytes": .integer(Int64(response.body.count)), "sha256": .string(digest),
            ]
            if let id = response.headers["starling-package-id"] { summary["packageId"] = .string(id) }
            hub.show(.object(summary)) {
                "Wrote \(model) \(version) \(package ? "package" : "model file") to \(output) "
                    + "(\(Output.bytes(response.body.count)), sha256 \(digest.prefix(16))...)."
            }
        }
    }
}

/// Text renderings of single registry records.
enum RegistryRender {
    static func model(_ model: ModelRecord) -> String {
        HubOutput.fields([
            ("name", model.name), ("description", model.description.isEmpty ? "-" : model.description),
            ("owner", model.owner.isEmpty ? "-" : model.owner), ("four-eyes", model.fourEyes ? "on" : "off"),
            ("created", HubOutput.time(model.createdAt) + " by " + model.createdBy),
        ])
    }

    static func version(_ v: VersionRecord) -> String {
        var pairs: [(String, String)] = [
            ("model", v.model), ("version", v.version),
            ("registered", HubOutput.time(v.registeredAt) + " by " + v.registeredBy),
            ("model file", "sha256 \(v.modelFile.digest), \(Output.bytes(v.modelFile.size))"),
            ("package", "id \(v.packageId), \(Output.bytes(v.package.size))"),
            ("package file", "sha256 \(v.package.digest)"),
            ("signing key", v.signingKeyId),
        ]
        if let lineage = v.lineage {
            if let parent = lineage.parent { pairs.append(("parent", parent)) }
            if let run = lineage.trainingRun { pairs.append(("training run", run)) }
            if let round = lineage.federatedRound { pairs.append(("federated round", round)) }
            if let source = lineage.importSource { pairs.append(("import source", source)) }
            for digest in lineage.dataDigests ?? [] { pairs.append(("data digest", digest)) }
        }
        pairs.append(("tags", HubOutput.labels(v.tags)))
        if let metadata = v.metadata, !metadata.isEmpty {
            for key in metadata.keys.sorted() { pairs.append(("metadata." + key, metadata[key]!.compactASCII)) }
        }
        return HubOutput.fields(pairs)
    }
}
