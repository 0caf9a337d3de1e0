import Core
import Foundation
import ONNXImport

/// `starling-bench package`: packaging and verifying one model file, Starling beside the `zstd`
/// and `openssl` command line tools on the same file, in one run.
///
/// Every case runs once per round, the cases of a round back to back in a rotating order (so all
/// share the machine's state), after one warm-up call each. A case's figure is its median over
/// the rounds, as MB/s (10^6 bytes) of the uncompressed model file. Prints one JSON line per case.
struct PackageBench {
    struct Options {
        /// The model: an int8 ONNX file (imported and written as `.starling`) or a `.starling` file.
        var model = ""
        /// Directory for the files the benchmark writes (model, keys, packages, outputs).
        var work = ""
        /// The `starling` CLI; without it the CLI cases are left out.
        var cli: String?
        var rounds = 7
        /// Seconds of `zstd -b` per direction (its own in-memory benchmark).
        var zstdSeconds = 2

        static let usage = """
            usage: starling-bench package --model FILE.onnx|FILE.starling --work DIR [--cli PATH/starling]
                                          [--rounds R] [--zstd-seconds S]
            Times Starling package create/verify (API and CLI) beside zstd -3 / zstd -d and
            openssl pkeyutl Ed25519 sign/verify on the same model file; one JSON line per case.
            """

        init(parsing arguments: [String]) throws(BenchError) {
            var rest = arguments[...]
            func value(_ flag: String) throws(BenchError) -> String {
                guard let v = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
                return v
            }
            while let flag = rest.popFirst() {
                switch flag {
                case "--model": model = try value(flag)
                case "--work": work = try value(flag)
                case "--cli": cli = try value(flag)
                case "--rounds":
                    guard let n = Int(try value(flag)), n >= 1 else { throw BenchError("--rounds takes a number ≥ 1") }
                    rounds = n
                case "--zstd-seconds":
                    guard let n = Int(try value(flag)), n >= 1 else { throw BenchError("--zstd-seconds takes a number ≥ 1") }
                    zstdSeconds = n
                default: throw BenchError("unknown option '\(flag)'")
                }
            }
            guard !model.isEmpty, !work.isEmpty else { throw BenchError("--model and --work are required") }
        }
    }

    /// One timed case: what it runs, and its time per call.
    struct Case {
        var name: String
        var side: String
        var label: String
        var body: () throws -> Timing
    }

    let options: Options
    /// Paths of the files under `work`.
    let modelPath, keyPath, publicKeyPath, packagePath, zstdPath, unzstdPath, pemPath, publicPemPath, signaturePath: String

    init(_ options: Options) {
        self.options = options
        let w = options.work
        modelPath = w + "/model.starling"
        keyPath = w + "/bench.key"
        publicKeyPath = w + "/bench.pub"
        packagePath = w + "/model.pkg"
        zstdPath = w + "/model.starling.zst"
        unzstdPath = w + "/model.unzstd"
        pemPath = w + "/ed25519.pem"
        publicPemPath = w + "/ed25519.pub.pem"
        signaturePath = w + "/model.sig"
    }

    /// Writes the model, keys and reference outputs, times every case and prints the rows.
    func run() throws {
        try FileManager.default.createDirectory(atPath: options.work, withIntermediateDirectories: true)
        let modelBytes =
            options.model.hasSuffix(".onnx")
            ? try ModelFile.encode(try ONNXImporter.importModel(path: options.model)) : try FileIO.read(options.model)
        try FileIO.writeAtomically(modelBytes, to: modelPath)
        let key = SigningKey.generate(name: "bench")
        try key.write(to: keyPath)
        try key.publicKey.write(to: publicKeyPath)
        try Tools.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", pemPath])
        try Tools.run(["openssl", "pkey", "-in", pemPath, "-pubout", "-out", publicPemPath])

        let packageOptions = PackageOptions(name: "bench", version: SemanticVersion("1.0.0")!, createdAt: "2026-01-01T00:00:00Z")
        let package = try ModelPackage.create(model: modelBytes, options: packageOptions, key: key)
        let packageBytes = package.encode()
        try FileIO.writeAtomically(packageBytes, to: packagePath)
        try Tools.run(["zstd", "-3", "-q", "-f", modelPath, "-o", zstdPath])
        try Tools.run(["openssl", "pkeyutl", "-sign", "-inkey", pemPath, "-rawin", "-in", modelPath, "-out", signaturePath])
        let verifier = PackageVerifier(trust: try TrustRing(keys: [key.publicKey]))
        let payload = package.payload

        var cases = [
            Case(name: "decode", side: "starling", label: "ModelFile.decode (model validation)") {
                try timed { _ = try ModelFile.decode(modelBytes) }
            },
            Case(name: "libzstd.compress", side: "starling", label: "libzstd level 3 alone (Zstd.compress)") {
                try timed { _ = try Zstd.compress(modelBytes, level: 3) }
            },
            Case(name: "libzstd.decompress", side: "starling", label: "libzstd decompression alone (Zstd.decompress)") {
                try timed { _ = try Zstd.decompress(payload, expectedSize: modelBytes.count) }
            },
            Case(name: "sha256", side: "starling", label: "SHA-256 of the model (swift-crypto)") {
                timed { _ = PackageDigest.sha256(modelBytes) }
            },
            Case(name: "create", side: "starling", label: "ModelPackage.create + encode") {
                try timed { _ = try ModelPackage.create(model: modelBytes, options: packageOptions, key: key).encode() }
            },
            Case(name: "verify", side: "starling", label: "PackageVerifier.unpack (signature, digests, decompression)") {
                try timed { _ = try verifier.unpack(packageBytes) }
            },
            Case(name: "verify.model", side: "starling", label: "PackageVerifier.verify (unpack + ModelFile.decode)") {
                try timed { _ = try verifier.verify(packageBytes) }
            },
            Case(name: "create.cli", side: "zstd", label: "zstd -3 -q -f MODEL -o OUT") {
                try Tools.run(["zstd", "-3", "-q", "-f", modelPath, "-o", zstdPath])
            },
            Case(name: "create.cli", side: "openssl", label: "openssl pkeyutl -sign -rawin (Ed25519) -in MODEL") {
                try Tools.run([
                    "openssl", "pkeyutl", "-sign", "-inkey", pemPath, "-rawin", "-in", modelPath, "-out", signaturePath,
                ])
            },
            Case(name: "verify.cli", side: "zstd", label: "zstd -d -q -f MODEL.zst -o OUT") {
                try Tools.run(["zstd", "-d", "-q", "-f", zstdPath, "-o", unzstdPath])
            },
            Case(name: "verify.cli", side: "openssl", label: "openssl pkeyutl -verify -rawin (Ed25519) -in MODEL") {
                try Tools.run([
                    "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", publicPemPath, "-rawin", "-in", modelPath, "-sigfile",
                    signaturePath,
                ])
            },
        ]
        if let cli = options.cli {
            cases.append(
                Case(name: "create.cli", side: "starling", label: "starling package create (process, file in and out)") {
                    try Tools.run([
                        cli, "package", "create", modelPath, "--name", "bench", "--version", "1.0.0", "--key", keyPath, "--out",
                        packagePath, "--created-at", "2026-01-01T00:00:00Z",
                    ])
                })
            cases.append(
                Case(name: "verify.cli", side: "starling", label: "starling package verify (process, with model validation)") {
                    try Tools.run([cli, "package", "verify", packagePath, "--trust", publicKeyPath])
                })
        }

        var samples = [[Timing]](repeating: [], count: cases.count)
        for c in cases { _ = try c.body() }
        for round in 0..<options.rounds {
            for k in 0..<cases.count {
                let i = (k + round) % cases.count
                samples[i].append(try cases[i].body())
            }
        }
        var rows = zip(cases, samples).map { c, s in
            PackageRow(caseName: c.name, side: c.side, label: c.label, bytes: modelBytes.count, samples: s)
        }
        // The peers' create and verify as one would script them: zstd, then openssl, on the model file.
        for name in ["create.cli", "verify.cli"] {
            guard let z = rows.first(where: { $0.caseName == name && $0.side == "zstd" }),
                let o = rows.first(where: { $0.caseName == name && $0.side == "openssl" })
            else { continue }
            rows.append(
                PackageRow(
                    caseName: name, side: "zstd+openssl", label: "\(z.label), then \(o.label) (per round)",
                    bytes: modelBytes.count,
                    samples: zip(z.samples, o.samples).map { Timing(wall: $0.wall + $1.wall, cpu: $0.cpu + $1.cpu) }))
        }
        let zstd = try Tools.zstdBench(file: modelPath, level: 3, seconds: options.zstdSeconds)
        rows.append(
            PackageRow(
                caseName: "create.mem", side: "zstd", label: "zstd -b3 compression (in memory, fastest run)",
                bytes: modelBytes.count, mbPerSecond: zstd.compress))
        rows.append(
            PackageRow(
                caseName: "verify.mem", side: "zstd", label: "zstd -b3 decompression (in memory, fastest run)",
                bytes: modelBytes.count, mbPerSecond: zstd.decompress))

        let info = PackageInfo(
            modelBytes: modelBytes.count, payloadBytes: package.payload.count, packageBytes: packageBytes.count,
            zstdCliBytes: (try? FileIO.size(zstdPath)) ?? 0, chunks: package.manifest.payload.chunks.count,
            rounds: options.rounds, crcAccelerated: CRC32.isAccelerated, zstd: Tools.version(["zstd", "--version"]),
            openssl: Tools.version(["openssl", "version"]))
        try printJSON(info)
        for row in rows { try printJSON(row) }
    }

    /// The wall and CPU time `body` takes.
    private func timed(_ body: () throws -> Void) rethrows -> Timing {
        let cpu = cpuSeconds(children: false)
        let start = now()
        try body()
        return Timing(wall: now() - start, cpu: cpuSeconds(children: false) - cpu)
    }
}
