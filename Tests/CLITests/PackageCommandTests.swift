import Foundation
import Testing

/// `starling keys ...` and `starling package ...` end to end through the real executable:
/// a full key rotation and delta workflow, and every refusal with a message and exit status 1.
@Suite("starling package and keys CLI", .serialized)
final class PackageCommandTests {
    let dir = try! CLIRunner.temporaryDirectory()

    deinit { CLIRunner.removeDirectory(dir) }

    /// Trains and quantizes a small digits model for `epochs` epochs.
    func model(_ name: String, epochs: Int) throws -> String {
        let float = dir + "/\(name)-float.starling"
        let int8 = dir + "/\(name).starling"
        let train = try CLIRunner.run(
            [
                "model", "train", "--data", "data/digits.csv", "--label", "label", "--split",
                "data/digits_dirichlet05_20clients.json",
                "--arch", "mlp:32", "--scale", "divide:16", "--epochs", "\(epochs)", "--quiet", "--out", float,
            ])
        #expect(train.status == 0, "\(train.stderr)")
        let quantize = try CLIRunner.run(["model", "quantize", float, "--calibration", "data/digits.csv", "--out", int8])
        #expect(quantize.status == 0, "\(quantize.stderr)")
        return int8
    }

    func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
    }

    /// Runs `package verify` with --json and returns (status, parsed output).
    func verify(_ file: String, _ extra: [String]) throws -> (Int32, [String: Any]) {
        let result = try CLIRunner.run(["package", "verify", file, "--json"] + extra)
        #expect(result.failedCleanly || result.status == 0)
        return (result.status, try json(result.stdout))
    }

    @Test("keys, create, verify, inspect, delta and rotation work together")
    func workflow() throws {
        let v1 = try model("v1", epochs: 4)
        let v2 = try model("v2", epochs: 5)
        let keys = dir + "/keys"
        let generated = try CLIRunner.run(["keys", "generate", "--out", keys, "--name", "hub-a", "--json"])
        #expect(generated.status == 0, "\(generated.stderr)")
        let keyId = try json(generated.stdout)["keyId"] as! String
        let attributes = try FileManager.default.attributesOfItem(atPath: keys + "/hub-a.key")
        #expect((attributes[.posixPermissions] as! NSNumber).intValue == 0o600)
        #expect(try CLIRunner.run(["keys", "generate", "--out", keys, "--name", "hub-a"]).failedCleanly, "no silent overwrite")
        let ring = dir + "/trust.json"
        #expect(try CLIRunner.run(["keys", "trust", keys + "/hub-a.pub", "--ring", ring]).status == 0)

        let p1 = dir + "/digits-1.0.0.pkg"
        let created = try CLIRunner.run(
            [
                "package", "create", v1, "--name", "digits", "--version", "1.0.0", "--key", keys + "/hub-a.key", "--out", p1,
                "--chunk-size", "4096", "--profiles", "pi4,x86-gateway", "--min-agent-version", "0.1.0", "--json",
            ])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(try json(created.stdout)["chunks"] as! Int > 1)
        let (status, report) = try verify(p1, ["--trust", ring])
        #expect(status == 0 && report["valid"] as? Bool == true && report["keyId"] as? String == keyId)
        #expect(try CLIRunner.run(["package", "verify", p1, "--trust", ring]).stdout.contains("valid"))

        let inspect = try CLIRunner.run(["package", "inspect", p1, "--json"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let manifest = try json(inspect.stdout)["manifest"] as! [String: Any]
        #expect(manifest["profiles"] as? [String] == ["pi4", "x86-gateway"])
        #expect((manifest["payload"] as! [String: Any])["chunkSize"] as? Int == 4096)
        #expect(try CLIRunner.run(["package", "inspect", p1]).stdout.contains("digits 1.0.0"))

        // Delta v2 against v1, signed with a second key after rotation.
        #expect(try CLIRunner.run(["keys", "generate", "--out", keys, "--name", "hub-b"]).status == 0)
        #expect(try CLIRunner.run(["keys", "trust", keys + "/hub-b.pub", "--ring", ring]).status == 0)
        let p2 = dir + "/digits-1.1.0.pkg"
        let delta = try CLIRunner.run(
            [
                "package", "create", v2, "--name", "digits", "--version", "1.1.0", "--key", keys + "/hub-b.key", "--out", p2,
                "--base", p1, "--json",
            ])
        #expect(delta.status == 0, "\(delta.stderr)")
        let summary = try json(delta.stdout)
        #expect(summary["deltaBase"] as? String == "digits 1.0.0")
        #expect((summary["payloadBytes"] as! Int) < (summary["modelBytes"] as! Int))
        #expect(try verify(p2, ["--trust", ring, "--base", p1]).0 == 0)
        #expect(try verify(p2, ["--trust", ring]).1["code"] as? String == "missingBase")

        // Revoke the first key: its package is refused, the new one still verifies... but only
        // with a base that itself verifies, so the full v1 is refused as base too.
        let revoked = dir + "/revoked.json"
        #expect(try CLIRunner.run(["keys", "revoke", keyId, "--list", revoked, "--reason", "rotated"]).status == 0)
        #expect(try verify(p1, ["--trust", ring, "--revoked", revoked]).1["code"] as? String == "revokedKey")
        #expect(try verify(p2, ["--trust", ring, "--revoked", revoked, "--base", p1]).1["code"] as? String == "revokedKey")
        let p2full = dir + "/digits-1.1.0-full.pkg"
        #expect(
            try CLIRunner.run([
                "package", "create", v2, "--name", "digits", "--version", "1.1.0", "--key", keys + "/hub-b.key",
                "--out", p2full,
            ]).status == 0)
        #expect(try verify(p2full, ["--trust", ring, "--revoked", revoked]).0 == 0)
    }

    @Test("damaged, foreign and wrong inputs give a message, their code in JSON and exit status 1")
    func refusals() throws {
        let v1 = try model("r1", epochs: 2)
        let keys = dir + "/rkeys"
        #expect(try CLIRunner.run(["keys", "generate", "--out", keys, "--name", "hub"]).status == 0)
        #expect(try CLIRunner.run(["keys", "generate", "--out", keys, "--name", "other"]).status == 0)
        let ring = dir + "/rtrust.json"
        let otherRing = dir + "/rother.json"
        #expect(try CLIRunner.run(["keys", "trust", keys + "/hub.pub", "--ring", ring]).status == 0)
        #expect(try CLIRunner.run(["keys", "trust", keys + "/other.pub", "--ring", otherRing]).status == 0)
        let package = dir + "/r.pkg"
        #expect(
            try CLIRunner.run([
                "package", "create", v1, "--name", "digits", "--version", "1.0.0", "--key", keys + "/hub.key",
                "--out", package,
            ]).status == 0)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: package)))

        var flipped = bytes
        flipped[bytes.count - 10] ^= 1
        let damaged = dir + "/flipped.pkg"
        try Data(flipped).write(to: URL(fileURLWithPath: damaged))
        let truncated = dir + "/truncated.pkg"
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: truncated))
        let cases: [(String, [String], String)] = [
            ("flipped payload byte", [damaged, "--trust", ring], "payloadDigestMismatch"),
            ("truncated", [truncated, "--trust", ring], "truncated"),
            ("unknown key", [package, "--trust", otherRing], "unknownKey"),
            ("a model file, not a package", [v1, "--trust", ring], "notAPackage"),
            ("missing file", [dir + "/none.pkg", "--trust", ring], "io"),
            ("public key as ring, wrong key", [package, "--trust", keys + "/other.pub"], "unknownKey"),
        ]
        for (name, arguments, code) in cases {
            let (status, report) = try verify(arguments[0], Array(arguments.dropFirst()))
            #expect(status == 1, "\(name)")
            #expect(report["valid"] as? Bool == false && report["code"] as? String == code, "\(name): \(report)")
        }

        let out = dir + "/never.pkg"
        let createCases: [([String], String)] = [
            ([dir + "/rtrust.json", "--version", "1.0.0", "--key", keys + "/hub.key"], "not valid"),
            ([v1, "--version", "1.0.0", "--key", keys + "/hub.key", "--chunk-size", "10"], "chunk size"),
            ([v1, "--version", "1.0.0", "--key", keys + "/hub.pub"], "private key file"),
            ([v1, "--version", "1.0.0", "--key", keys + "/hub.key", "--base", damaged], "SHA-256"),
            ([v1, "--version", "1.0", "--key", keys + "/hub.key"], "not a semantic version"),
        ]
        for (arguments, message) in createCases {
            let result = try CLIRunner.run(["package", "create", "--name", "digits", "--out", out] + arguments)
            #expect(result.failedCleanly, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "nothing is written on failure")
        }

        chmod(keys + "/hub.key", 0o644)
        let loose = try CLIRunner.run([
            "package", "create", v1, "--name", "digits", "--version", "1.0.0", "--key", keys + "/hub.key", "--out", out,
        ])
        #expect(loose.failedCleanly && loose.stderr.contains("chmod 600"))
        #expect(try CLIRunner.run(["package", "inspect", truncated]).failedCleanly)
        #expect(try CLIRunner.run(["keys", "revoke", "nothex", "--list", dir + "/rl.json"]).failedCleanly)
    }
}
