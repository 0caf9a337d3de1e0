import Foundation

/// One case's result line: MB/s from the median wall time over rounds, and from the median CPU time.
struct PackageRow: Encodable {
    var section = "packages"
    var caseName: String
    var side: String
    var label: String
    /// Model file bytes the rate is computed on.
    var bytes: Int
    /// Per-round times (empty for a rate another tool measured).
    var samples: [Timing] = []
    var mbPerSecond: Double

    init(caseName: String, side: String, label: String, bytes: Int, samples: [Timing]) {
        self.caseName = caseName
        self.side = side
        self.label = label
        self.bytes = bytes
        self.samples = samples
        mbPerSecond = Double(bytes) / 1e6 / Measurement.median(samples.map(\.wall).sorted())
    }

    init(caseName: String, side: String, label: String, bytes: Int, mbPerSecond: Double) {
        self.caseName = caseName
        self.side = side
        self.label = label
        self.bytes = bytes
        self.mbPerSecond = mbPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case section, caseName = "case", side, label, bytes, samples = "samples_s", mbPerSecond = "mb_per_s"
        case median = "median_s", min = "min_s", max = "max_s", rounds, cpuMedian = "cpu_median_s", cpuRate = "cpu_mb_per_s"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(section, forKey: .section)
        try c.encode(caseName, forKey: .caseName)
        try c.encode(side, forKey: .side)
        try c.encode(label, forKey: .label)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(mbPerSecond, forKey: .mbPerSecond)
        try c.encode(samples.count, forKey: .rounds)
        guard !samples.isEmpty else { return }
        let wall = samples.map(\.wall).sorted()
        let cpu = Measurement.median(samples.map(\.cpu).sorted())
        try c.encode(samples.map(\.wall), forKey: .samples)
        try c.encode(Measurement.median(wall), forKey: .median)
        try c.encode(wall[0], forKey: .min)
        try c.encode(wall[wall.count - 1], forKey: .max)
        try c.encode(cpu, forKey: .cpuMedian)
        try c.encode(Double(bytes) / 1e6 / max(cpu, 1e-9), forKey: .cpuRate)
    }
}

/// Sizes and versions for the record (`"case": "info"`).
struct PackageInfo: Encodable {
    var section = "packages"
    var caseName = "info"
    var side = "info"
    var modelBytes: Int
    var payloadBytes: Int
    var packageBytes: Int
    var zstdCliBytes: Int
    var chunks: Int
    var rounds: Int
    var crcAccelerated: Bool
    var zstd: String
    var openssl: String

    enum CodingKeys: String, CodingKey {
        case section, caseName = "case", side, modelBytes = "model_bytes", payloadBytes = "payload_bytes"
        case packageBytes = "package_bytes", zstdCliBytes = "zstd_cli_bytes", chunks, rounds
        case crcAccelerated = "crc32_accelerated", zstd, openssl
    }
}

/// Prints `value` as one JSON line.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
