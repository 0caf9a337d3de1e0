import ArgumentParser
import Core
import Foundation

struct PackageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "package",
        abstract: "Create, verify and inspect signed, compressed model packages.",
        subcommands: [PackageCreate.self, PackageVerify.self, PackageInspect.self])
}

struct PackageCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Package a model file: zstd-compress it (or a delta against --base), chunk it, sign it.")

    @Argument(help: "Model file (.starling).")
    var model: String
    @Option(help: "Model name (A-Z a-z 0-9 . _ -).")
    var name: String
    @Option(help: "Semantic version of this model, e.g. 1.2.0.")
    var version: String
    @Option(help: "Private key file (from `starling keys generate`).")
    var key: String
    @Option(help: "Output package file.")
    var out: String
    @Option(help: "A full package of an earlier version: make a delta against its model.")
    var base: String?
    @Option(name: .customLong("chunk-size"), help: "Transfer chunk size in bytes.")
    var chunkSize = 256 << 10
    @Option(help: "Compatible firmware profiles, comma separated (default: any).")
    var profiles: String?
    @Option(name: .customLong("min-agent-version"), help: "Oldest agent version that may run it.")
    var minAgentVersion: String?
    @Option(help: "Version this one derives from (default: the base's version).")
    var parent: String?
    @Option(help: "zstd level, 1-19.")
    var level = 3
    @Option(name: .customLong("created-at"), help: "Creation time, RFC 3339 UTC (default: now), for reproducible packages.")
    var createdAt: String?
    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard SemanticVersion(version) != nil else {
            throw ValidationError("--version '\(version)' is not a semantic version (e.g. 1.2.0)")
        }
        for (flag, value) in [("--min-agent-version", minAgentVersion), ("--parent", parent)] {
            if let value, SemanticVersion(value) == nil { throw ValidationError("\(flag) '\(value)' is not a semantic version") }
        }
    }

    func run() throws {
        let clock = ContinuousClock()
        let modelBytes = try FileIO.read(model)
        let signer = try SigningKey.read(path: key)
        var packageBase: PackageBase?
        if let base { packageBase = try readBase(base) }
        let options = PackageOptions(
            name: name, version: SemanticVersion(version)!,
            createdAt: createdAt ?? ISO8601DateFormatter().string(from: Date()), parent: parent.flatMap(SemanticVersion.init),
            chunkSize: chunkSize,
            profiles: profiles.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [],
            minAgentVersion: minAgentVersion.flatMap(SemanticVersion.init), compressionLevel: level)
        let started = clock.now
        let package = try ModelPackage.create(model: modelBytes, options: options, base: packageBase, key: signer)
        let bytes = package.encode()
        let seconds = (clock.now - started).seconds
        try FileIO.writeAtomically(bytes, to: out)
        let manifest = package.manifest
        let summary = CreateSummary(
            out: out, name: manifest.name, version: manifest.version.description, packageId: package.head.id,
            keyId: manifest.keyId,
            modelBytes: manifest.model.size, payloadBytes: manifest.payload.size, fileBytes: bytes.count,
            chunks: manifest.payload.chunks.count, chunkSize: manifest.payload.chunkSize,
            deltaBase: manifest.delta.map { "\($0.name) \($0.version)" }, seconds: seconds,
            modelMBPerSecond: Double(manifest.model.size) / 1e6 / max(seconds, 1e-9))
        if json {
            try Output.json(summary)
            return
        }
        print(
            Output.table(
                ["", "value"],
                [
                    ["package", out], ["model", "\(manifest.name) \(manifest.version)"],
                    ["package id", String(package.head.id.prefix(16))],
                    ["signed by", manifest.keyId + " ('\(signer.name)')"],
                    [
                        "size",
                        "\(Output.bytes(manifest.model.size)) model -> \(Output.bytes(manifest.payload.size)) payload"
                            + (manifest.delta.map { " (delta against \($0.name) \($0.version))" } ?? ""),
                    ],
                    ["chunks", "\(manifest.payload.chunks.count) x \(Output.bytes(manifest.payload.chunkSize))"],
                    ["time", String(format: "%.3f s (%.0f MB/s of model)", seconds, summary.modelMBPerSecond)],
                ]))
    }
}

extension PackageCreate {
    /// The model of a full package to make a delta against (integrity checked; signature not,
    /// since the hub packages from its own files).
    private func readBase(_ path: String) throws(ArtifactError) -> PackageBase {
        do throws(ArtifactError) {
            let package = try ModelPackage.parse(try ModelPackage.readFile(path: path))
            if let delta = package.manifest.delta {
                throw ArtifactError(
                    .invalidArgument,
                    "it is itself a delta against \(delta.name) \(delta.version); give the full package of "
                        + "\(package.manifest.name) \(package.manifest.version)")
            }
            return PackageBase(name: package.manifest.name, version: package.manifest.version, model: try package.unpack())
        } catch {
            throw ArtifactError(error.code, "--base '\(path)': \(error.message)", underlying: error.underlying)
        }
    }
}

struct CreateSummary: Encodable {
    var out: String
    var name: String
    var version: String
    var packageId: String
    var keyId: String
    var modelBytes: Int
    var payloadBytes: Int
    var fileBytes: Int
    var chunks: Int
    var chunkSize: Int
    var deltaBase: String?
    /// Packaging time (validate, compress, digest, chunk, sign), without file I/O.
    var seconds: Double
    var modelMBPerSecond: Double
}
