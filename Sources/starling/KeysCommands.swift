import ArgumentParser
import Core
import Foundation

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create package signing keys and maintain trust rings and revocation lists.",
        subcommands: [KeysGenerate.self, KeysTrust.self, KeysRevoke.self])
}

struct KeysGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate", abstract: "Generate an Ed25519 signing key: NAME.key (mode 0600) and NAME.pub in DIR.")

    @Option(help: "Directory to write the key files to (created if missing).")
    var out: String
    @Option(help: "Key name, also the file name (A-Z a-z 0-9 . _ -).")
    var name = "hub"
    @Flag(help: "Replace existing key files of that name.")
    var force = false
    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard PackageManifest.isValidName(name) else { throw ValidationError("--name must be 1-64 of A-Z a-z 0-9 . _ -") }
    }

    func run() throws {
        let privatePath = out + "/" + name + ".key"
        let publicPath = out + "/" + name + ".pub"
        if !force, FileIO.exists(privatePath) || FileIO.exists(publicPath) {
            throw ArtifactError(
                .invalidArgument, "'\(privatePath)' or '\(publicPath)' exists; pick another --name or pass --force")
        }
        try FileIO.createDirectory(out, mode: 0o700)
        let key = SigningKey.generate(name: name)
        try key.write(to: privatePath)
        try key.publicKey.write(to: publicPath)
        let summary = KeySummary(name: name, keyId: key.keyId, privateKey: privatePath, publicKey: publicPath)
        if json {
            try Output.json(summary)
        } else {
            print(
                Output.table(
                    ["", "value"],
                    [
                        ["name", name], ["key id", key.keyId], ["private key", privatePath + " (mode 0600; keep it secret)"],
                        ["public key", publicPath],
                    ]))
            print("\nTrust it on devices: starling keys trust \(publicPath) --ring trust.json")
        }
    }
}

struct KeySummary: Encodable {
    var name: String
    var keyId: String
    var privateKey: String
    var publicKey: String
}

struct KeysTrust: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust", abstract: "Add public keys to a trust ring file (created if missing); several keys allow rotation.")

    @Argument(help: "Public key files (NAME.pub).")
    var publicKeys: [String]
    @Option(help: "Trust ring file.")
    var ring: String
    @Flag(help: "Print the ring as JSON.")
    var json = false

    func validate() throws {
        guard !publicKeys.isEmpty else { throw ValidationError("give at least one public key file") }
    }

    func run() throws {
        var trust = FileIO.exists(ring) ? try TrustRing.read(path: ring) : try TrustRing(keys: [])
        for path in publicKeys {
            for key in try TrustRing.read(path: path).keys { try trust.add(key) }
        }
        try trust.write(to: ring)
        if json {
            try Output.json(trust.keys)
        } else {
            print(Output.table(["key id", "name"], trust.keys.map { [$0.keyId, $0.name] }))
        }
    }
}

struct KeysRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Add a key id to a revocation list file (created if missing).")

    @Argument(help: "The key id to revoke (16 hex digits).")
    var keyId: String
    @Option(help: "Revocation list file.")
    var list: String
    @Option(help: "Why, for people reading the list.")
    var reason: String?
    @Flag(help: "Print the list as JSON.")
    var json = false

    func run() throws {
        var revocations = FileIO.exists(list) ? try RevocationList.read(path: list) : RevocationList()
        try revocations.revoke(keyId, reason: reason)
        try revocations.write(to: list)
        if json {
            try Output.json(revocations)
        } else {
            print(Output.table(["revoked key id", "reason"], revocations.revoked.map { [$0.keyId, $0.reason ?? "-"] }))
        }
    }
}
