import Foundation
import Testing

/// The command-line contract of `starling keys` and `starling package` through the real
/// executable: the `--json` shapes scripts rely on, one-line errors with exit status 1, the
/// device target flags, no file written by a failed command, and reproducible packages.
@Suite("starling package contract", .serialized)
final class PackageContractTests {
    let dir = try! CLIRunner.temporaryDirectory()
    lazy var model: String = try! makeModel()
    lazy var key: String = try! makeKey()
    var ring: String { dir + "/keys/trust.json" }

    deinit { CLIRunner.removeDirectory(dir) }

    /// A small int8 digits model (one epoch, dynamic quantization: fast, and valid).
    func makeModel() throws -> String {
        let float = dir + "/float.starling"
        let int8 = dir + "/int8.starling"
        let train = try CLIRunner.run([
            "model", "train", "--data", "data/digits.csv", "--label", "label", "--test-split", "0.2",
            "--arch", "mlp:16", "--scale", "divide:16", "--epochs", "1", "--quiet", "--out", float,
        ])
        #expect(train.status == 0, "\(train.stderr)")
        let quantize = try CLIRunner.run(["model", "quantize", float, "--dynamic", "--out", int8])
        #expect(quantize.status == 0, "\(quantize.stderr)")
        return int8
    }

    /// `keys generate --out DIR` with the default name (`hub`), trusted in `ring`.
    func makeKey() throws -> String {
        let generated = try CLIRunner.run(["keys", "generate", "--out", dir + "/keys"])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(try CLIRunner.run(["keys", "trust", dir + "/keys/hub.pub", "--ring", ring]).status == 0)
        return dir + "/keys/hub.key"
    }

    /// Runs `package create` on the model; returns the package path.
    @discardableResult
    func create(_ name: String, _ extra: [String] = []) throws -> String {
        let out = dir + "/" + name
        let result = try CLIRunner.run(
            ["package", "create", model, "--name", "digits", "--version", "1.0.0", "--key", key, "--out", out] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return out
    }

    func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Where `needle` first occurs in `bytes`.
    func offset(of needle: String, in bytes: [UInt8]) throws -> Int {
        let pattern = Array(needle.utf8)
        return try #require((0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern })
    }

    /// `package inspect --json` of `path`.
    func inspect(_ path: String) throws -> [String: Any] {
        try object(try CLIRunner.run(["package", "inspect", path, "--json"]).stdout)
    }

    @Test("the --json outputs have the documented keys")
    func jsonShapes() throws {
        let keys = dir + "/shape-keys"
        let generated = try CLIRunner.run(["keys", "generate", "--out", keys, "--json"])
        #expect(Set(try object(generated.stdout).keys) == ["keyId", "name", "privateKey", "publicKey"])
        #expect(
            FileManager.default.fileExists(atPath: keys + "/hub.key") && FileManager.default.fileExists(atPath: keys + "/hub.pub")
        )
        let mode = try FileManager.default.attributesOfItem(atPath: keys + "/hub.key")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600, "the private key file is mode 0600")
        let trusted = try CLIRunner.run(["keys", "trust", keys + "/hub.pub", "--ring", keys + "/ring.json", "--json"])
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(trusted.stdout.utf8)) as? [[String: Any]])
        #expect(entries.count == 1 && Set(entries[0].keys) == ["algorithm", "keyId", "name", "publicKey"])
        let revoked = try CLIRunner.run([
            "keys", "revoke", "0011223344556677", "--list", keys + "/rl.json", "--reason", "test", "--json",
        ])
        #expect((try object(revoked.stdout)["revoked"] as? [[String: Any]])?.first?.keys.sorted() == ["keyId", "reason"])

        let out = dir + "/shape.pkg"
        let created = try CLIRunner.run(
            ["package", "create", model, "--name", "digits", "--version", "1.0.0", "--key", key, "--out", out, "--json"])
        let summary = try object(created.stdout)
        #expect(
            Set(summary.keys) == [
                "chunkSize", "chunks", "fileBytes", "keyId", "modelBytes", "modelMBPerSecond", "name", "out", "packageId",
                "payloadBytes", "seconds", "version",
            ])
        #expect(summary["chunkSize"] as? Int == 262_144, "the default chunk size is 256 KiB")
        let verified = try CLIRunner.run(["package", "verify", out, "--trust", ring, "--json"])
        #expect(
            Set(try object(verified.stdout).keys) == [
                "file", "int8", "keyId", "keyName", "modelBytes", "modelMBPerSecond", "name", "packageId", "parameters",
                "payloadBytes", "seconds", "task", "unpackSeconds", "valid", "version",
            ])
        let failed = try CLIRunner.run(["package", "verify", model, "--trust", ring, "--json"])
        #expect(try object(failed.stdout).keys.sorted() == ["code", "message", "valid"])
        let inspected = try object(try CLIRunner.run(["package", "inspect", out, "--json"]).stdout)
        #expect(Set(inspected.keys) == ["file", "fileBytes", "headBytes", "manifest", "packageId", "signatureChecked"])
        let manifest = try #require(inspected["manifest"] as? [String: Any])
        #expect(Set(manifest.keys) == ["createdAt", "format", "keyId", "model", "name", "payload", "profiles", "version"])
        #expect(
            (manifest["payload"] as? [String: Any]).map { Set($0.keys) } == [
                "chunkSize", "chunks", "compression", "sha256", "size",
            ])
        #expect((manifest["model"] as? [String: Any]).map { Set($0.keys) } == ["sha256", "size"])
        #expect(inspected["packageId"] as? String == summary["packageId"] as? String)
    }

    @Test("every refusal exits 1 with one line on standard error, and its code in --json")
    func oneLineErrors() throws {
        let good = try create("good.pkg", ["--min-agent-version", "0.5.0", "--profiles", "pi4"])
        let bytes = try read(good)
        let inspected = try inspect(good)
        let headBytes = try #require(inspected["headBytes"] as? Int)
        var payloadFlip = bytes
        payloadFlip[headBytes + 5] ^= 1
        // The year's second digit: still a valid manifest, so only the signature can tell.
        let yearDigit = try offset(of: "\"createdAt\":\"2", in: bytes) + 14
        var manifestFlip = bytes
        manifestFlip[yearDigit] ^= 1
        var future = bytes
        future[8] = 9
        let otherKeys = dir + "/other-keys"
        #expect(try CLIRunner.run(["keys", "generate", "--out", otherKeys, "--name", "other"]).status == 0)
        let revoked = dir + "/revoked.json"
        let keyId = try #require((inspected["manifest"] as? [String: Any])?["keyId"] as? String)
        #expect(try CLIRunner.run(["keys", "revoke", keyId, "--list", revoked]).status == 0)

        let cases: [(String, [String], String, String)] = [
            (
                "flipped payload byte", [try write(payloadFlip, "payload.pkg"), "--trust", ring], "payloadDigestMismatch",
                "SHA-256"
            ),
            ("flipped manifest byte", [try write(manifestFlip, "manifest.pkg"), "--trust", ring], "badSignature", "altered"),
            ("future format", [try write(future, "future.pkg"), "--trust", ring], "unsupportedFormat", "upgrade starling"),
            ("truncated", [try write(Array(bytes.dropLast(9)), "short.pkg"), "--trust", ring], "truncated", "truncated"),
            ("unknown key", [good, "--trust", otherKeys + "/other.pub"], "unknownKey", "not in the trust ring"),
            ("revoked key", [good, "--trust", ring, "--revoked", revoked], "revokedKey", "revoked"),
            ("agent too old", [good, "--trust", ring, "--agent-version", "0.4.9"], "agentTooOld", "needs agent 0.5.0"),
            ("other profile", [good, "--trust", ring, "--profile", "jetson"], "incompatibleProfile", "jetson"),
            ("not a package", [model, "--trust", ring], "notAPackage", "not a Starling model package"),
            ("private key as ring", [good, "--trust", key], "invalidKey", "is a private key file"),
        ]
        for (name, arguments, code, words) in cases {
            let plain = try CLIRunner.run(["package", "verify"] + arguments)
            #expect(plain.status == 1 && plain.stdout.isEmpty, "\(name): \(plain.status) \(plain.stdout)")
            let lines = plain.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: ") && lines[0].contains(words), "\(name): \(plain.stderr)")
            let json = try CLIRunner.run(["package", "verify", "--json"] + arguments)
            #expect(json.status == 1)
            let report = try object(json.stdout)
            #expect(report["valid"] as? Bool == false && report["code"] as? String == code, "\(name): \(report)")
        }
        // The target flags accept a device that qualifies.
        let fits = try CLIRunner.run(["package", "verify", good, "--trust", ring, "--agent-version", "0.5.0", "--profile", "pi4"])
        #expect(fits.status == 0, "\(fits.stderr)")
        let badFlag = try CLIRunner.run(["package", "verify", good, "--trust", ring, "--agent-version", "five"])
        #expect(badFlag.status == 64 && badFlag.stderr.contains("--agent-version"), "a usage error: \(badFlag.stderr)")
        let inspect = try CLIRunner.run(["package", "inspect", dir + "/short.pkg"])
        #expect(inspect.status == 1 && inspect.stderr.split(separator: "\n").count == 1)
    }

    @Test("a failed create leaves an existing --out file as it was and no stray files")
    func failedCreateWritesNothing() throws {
        let out = dir + "/kept.pkg"
        let old = Array("an earlier package".utf8)
        _ = try write(old, "kept.pkg")
        _ = (model, key)  // made before the listing
        let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let failures: [[String]] = [
            [ring, "--key", key],  // not a model file
            [model, "--key", key, "--chunk-size", "10"],
            [model, "--key", key, "--base", model],  // a model file is not a package
            [model, "--key", dir + "/keys/hub.pub"],  // a public key is not a private key
        ]
        for arguments in failures {
            let result = try CLIRunner.run(
                ["package", "create", arguments[0], "--name", "digits", "--version", "1.0.0", "--out", out]
                    + arguments.dropFirst())
            #expect(result.status == 1 && result.stderr.split(separator: "\n").count == 1, "\(arguments): \(result.stderr)")
            #expect(try read(out) == old, "\(arguments): --out was overwritten")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before, "\(arguments): stray files")
        }
        let missingDir = try CLIRunner.run(
            ["package", "create", model, "--name", "digits", "--version", "1.0.0", "--key", key, "--out", dir + "/none/x.pkg"])
        #expect(missingDir.status == 1 && missingDir.stderr.contains("none/x.pkg"), "\(missingDir.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == before)
    }

    @Test("create is reproducible given --created-at; the time changes only createdAt and the signature")
    func reproducible() throws {
        let a = try create("a.pkg", ["--created-at", "2026-11-27T00:00:00Z", "--chunk-size", "2048"])
        let b = try create("b.pkg", ["--created-at", "2026-11-27T00:00:00Z", "--chunk-size", "2048"])
        let c = try create("c.pkg", ["--created-at", "2027-01-01T12:00:00Z", "--chunk-size", "2048"])
        #expect(try read(a) == read(b), "same inputs, same bytes")
        var manifests = try [a, c].map { try #require(try inspect($0)["manifest"] as? [String: Any]) }
        #expect(manifests[0]["createdAt"] as? String == "2026-11-27T00:00:00Z")
        #expect(manifests[1]["createdAt"] as? String == "2027-01-01T12:00:00Z")
        for i in manifests.indices { manifests[i]["createdAt"] = nil }
        let texts = try manifests.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        #expect(texts[0] == texts[1], "nothing else in the manifest differs")
        let now = try inspect(try create("now.pkg"))
        let stamp = (now["manifest"] as? [String: Any])?["createdAt"] as? String ?? ""
        #expect(stamp.count == 20 && stamp.hasSuffix("Z"), "default creation time is now, RFC 3339 UTC: \(stamp)")
        let bad = try CLIRunner.run([
            "package", "create", model, "--name", "digits", "--version", "1.0.0", "--key", key, "--out", dir + "/bad-time.pkg",
            "--created-at", "yesterday",
        ])
        #expect(bad.status == 1 && bad.stderr.contains("RFC 3339"))
    }

    @Test("inspect prints every manifest field, and the delta base of a delta")
    func inspectTable() throws {
        let full = try create(
            "full.pkg",
            ["--chunk-size", "2048", "--profiles", "x86-gateway,pi4", "--min-agent-version", "0.2.0", "--parent", "0.9.0"])
        let delta = dir + "/delta.pkg"
        let made = try CLIRunner.run([
            "package", "create", model, "--name", "digits", "--version", "1.1.0", "--key", key, "--out", delta, "--base", full,
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try #require(try inspect(full)["manifest"] as? [String: Any])
        let payload = try #require(manifest["payload"] as? [String: Any])
        let content = try #require(manifest["model"] as? [String: Any])
        let table = try CLIRunner.run(["package", "inspect", full]).stdout
        for expected in [
            "digits 1.0.0", "parent", "0.9.0", "created", manifest["createdAt"] as! String, "format", "signing key",
            manifest["keyId"] as! String, "pi4, x86-gateway", "min agent", "0.2.0", content["sha256"] as! String,
            payload["sha256"] as! String, "\((payload["chunks"] as! [String]).count) x 2.0 KiB",
        ] {
            #expect(table.contains(expected), "missing '\(expected)' in:\n\(table)")
        }
        let deltaTable = try CLIRunner.run(["package", "inspect", delta]).stdout
        #expect(deltaTable.contains("delta base") && deltaTable.contains("digits 1.0.0"), "\(deltaTable)")
        #expect(try CLIRunner.run(["package", "verify", delta, "--trust", ring, "--base", full]).status == 0)
    }
}
