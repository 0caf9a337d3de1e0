import ArgumentParser
import Core
import Foundation

struct PackageVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Verify a package as a device does: size bounds, manifest, signature, digests, decompression, model. Exit 0 only if valid."
    )

    @Argument(help: "Package file.")
    var file: String
    @Option(help: "Trust ring file (or a single public key file).")
    var trust: String
    @Option(help: "Revocation list file.")
    var revoked: String?
    @Option(help: "For a delta: the full package of its base version (verified first).")
    var base: String?
    @Option(
        name: .customLong("agent-version"),
        help: "Refuse the package if it needs a newer agent than this version (as a device running it would).")
    var agentVersion: String?
    @Option(help: "Refuse the package if its firmware profiles exclude this one (as a device with it would).")
    var profile: String?
    @Flag(help: "Print the result as JSON (also on failure: valid false, code, message).")
    var json = false

    func validate() throws {
        if let agentVersion, SemanticVersion(agentVersion) == nil {
            throw ValidationError("--agent-version '\(agentVersion)' is not a semantic version (e.g. 0.3.0)")
        }
        if let profile, !PackageManifest.isValidName(profile) {
            throw ValidationError("--profile '\(profile)' must be 1-64 of A-Z a-z 0-9 . _ -")
        }
    }

    func run() throws {
        let report: VerifyReport
        do {
            report = try verify()
        } catch {
            if json { try Output.json(VerifyFailure(code: error.code.rawValue, message: error.message)) }
            throw error
        }
        if json {
            try Output.json(report)
            return
        }
        print(
            Output.table(
                ["", "value"],
                [
                    ["package", file + ": valid"], ["model", "\(report.name) \(report.version)"],
                    ["signed by", report.keyId + (report.keyName.isEmpty ? "" : " ('\(report.keyName)')")],
                    [
                        "size",
                        "\(Output.bytes(report.payloadBytes)) payload -> \(Output.bytes(report.modelBytes)) model"
                            + (report.deltaBase.map { " (rebuilt from \($0))" } ?? ""),
                    ],
                    ["content", "\(report.task), \(report.parameters) parameters" + (report.int8 ? ", int8" : "")],
                    ["time", String(format: "%.3f s (%.0f MB/s of model)", report.seconds, report.modelMBPerSecond)],
                ]))
    }

    private func verify() throws(ArtifactError) -> VerifyReport {
        let revocations =
            try revoked.map { path throws(ArtifactError) in try RevocationList.read(path: path) } ?? RevocationList()
        let target =
            agentVersion == nil && profile == nil
            ? nil : PackageTarget(agentVersion: agentVersion.flatMap(SemanticVersion.init), profile: profile)
        let verifier = PackageVerifier(trust: try TrustRing.read(path: trust, revocations: revocations), target: target)
        var baseModel: [UInt8]?
        if let base {
            do {
                // The base is the device's current model: trusted and intact, whatever it targets.
                baseModel = try PackageVerifier(trust: verifier.trust).verify(path: base).modelBytes
            } catch {
                throw ArtifactError(error.code, "base package '\(base)': \(error.message)", underlying: error.underlying)
            }
        }
        let clock = ContinuousClock()
        let bytes = try ModelPackage.readFile(path: file, limits: verifier.limits)
        let started = clock.now
        let (head, modelBytes) = try verifier.unpack(bytes, base: baseModel)
        let unpacked = clock.now
        let model = try PackageVerifier.decodeModel(modelBytes)
        let seconds = (clock.now - started).seconds
        let manifest = head.manifest
        let keyName = verifier.trust.keys.first { $0.keyId == manifest.keyId }?.name ?? ""
        return VerifyReport(
            file: file, name: manifest.name, version: manifest.version.description, packageId: head.id,
            keyId: manifest.keyId, keyName: keyName, modelBytes: manifest.model.size, payloadBytes: manifest.payload.size,
            deltaBase: manifest.delta.map { "\($0.name) \($0.version)" }, task: model.metadata.task,
            parameters: model.graph.parameterCount, int8: model.quantization != nil, seconds: seconds,
            unpackSeconds: (unpacked - started).seconds, modelMBPerSecond: Double(manifest.model.size) / 1e6 / max(seconds, 1e-9))
    }
}

struct VerifyReport: Encodable {
    var valid = true
    var file: String
    var name: String
    var version: String
    var packageId: String
    var keyId: String
    var keyName: String
    var modelBytes: Int
    var payloadBytes: Int
    var deltaBase: String?
    var task: String
    var parameters: Int
    var int8: Bool
    /// Verification time (steps 1-7), without reading the file.
    var seconds: Double
    /// Of which size bounds, manifest, signature, digests and decompression (all but decoding the model).
    var unpackSeconds: Double
    var modelMBPerSecond: Double
}

struct VerifyFailure: Encodable {
    var valid = false
    var code: String
    var message: String
}

struct PackageInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a package's manifest and layout (the signature is not checked: use verify).")

    @Argument(help: "Package file.")
    var file: String
    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let bytes = try ModelPackage.readFile(path: file)
        let package = try ModelPackage.parse(bytes)
        let manifest = package.manifest
        let report = InspectPackageReport(
            file: file, fileBytes: bytes.count, headBytes: package.head.byteCount, packageId: package.head.id, manifest: manifest)
        if json {
            try Output.json(report)
            return
        }
        let ratio = Double(manifest.payload.size) / Double(manifest.model.size) * 100
        var rows: [[String]] = [
            ["package", "\(file) (\(Output.bytes(bytes.count)), head \(Output.bytes(package.head.byteCount)))"],
            ["package id", package.head.id], ["model", "\(manifest.name) \(manifest.version)"],
            ["parent", manifest.parent?.description ?? "-"], ["created", manifest.createdAt], ["format", "\(manifest.format)"],
            ["signing key", manifest.keyId + " (signature not checked; use package verify)"],
            ["profiles", manifest.profiles.isEmpty ? "any" : manifest.profiles.joined(separator: ", ")],
            ["min agent", manifest.minAgentVersion?.description ?? "-"],
            ["model file", "\(Output.bytes(manifest.model.size)), SHA-256 \(manifest.model.sha256)"],
            [
                "payload",
                "\(manifest.payload.compression), \(Output.bytes(manifest.payload.size)) (\(String(format: "%.1f", ratio)) % of the model), SHA-256 \(manifest.payload.sha256)",
            ],
            ["chunks", "\(manifest.payload.chunks.count) x \(Output.bytes(manifest.payload.chunkSize))"],
        ]
        if let delta = manifest.delta {
            rows.append(["delta base", "\(delta.name) \(delta.version), \(Output.bytes(delta.size)), SHA-256 \(delta.sha256)"])
        }
        print(Output.table(["", "value"], rows))
    }
}

struct InspectPackageReport: Encodable {
    var file: String
    var fileBytes: Int
    var headBytes: Int
    var packageId: String
    var signatureChecked = false
    var manifest: PackageManifest
}
