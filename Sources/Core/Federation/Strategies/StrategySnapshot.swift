/// Writes a strategy's state as little-endian bytes: a magic, the strategy's name, then fields in a
/// fixed order. Floats are stored as their bit patterns, so a restored state is bit-for-bit equal.
struct SnapshotWriter {
    private(set) var bytes: [UInt8] = []

    /// A snapshot of the strategy called `name`.
    init(name: String) {
        bytes.append(contentsOf: Array("STSN".utf8))
        bytes.append(1)
        string(name)
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func int(_ value: Int) { u64(UInt64(bitPattern: Int64(value))) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func double(_ value: Double) { u64(value.bitPattern) }

    mutating func string(_ value: String) {
        let utf8 = Array(value.utf8)
        int(utf8.count)
        bytes.append(contentsOf: utf8)
    }

    mutating func blob(_ value: [UInt8]) {
        int(value.count)
        bytes.append(contentsOf: value)
    }

    mutating func floats(_ values: [Float]) {
        int(values.count)
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for v in values {
            let b = v.bitPattern
            bytes.append(UInt8(truncatingIfNeeded: b))
            bytes.append(UInt8(truncatingIfNeeded: b >> 8))
            bytes.append(UInt8(truncatingIfNeeded: b >> 16))
            bytes.append(UInt8(truncatingIfNeeded: b >> 24))
        }
    }

    mutating func doubles(_ values: [Double]) {
        int(values.count)
        bytes.reserveCapacity(bytes.count + 8 * values.count)
        for v in values { u64(v.bitPattern) }
    }
}

/// Reads what `SnapshotWriter` wrote; every read is bounds-checked and fails as `.malformed`.
struct SnapshotReader {
    private let bytes: [UInt8]
    private var offset = 0

    /// Opens `bytes`, checking the magic, the version and that it belongs to `name`.
    init(_ bytes: [UInt8], name: String) throws(FederationError) {
        self.bytes = bytes
        guard bytes.count >= 5, Array(bytes[0..<4]) == Array("STSN".utf8) else {
            throw FederationError(.malformed, "not a strategy snapshot")
        }
        guard bytes[4] == 1 else { throw FederationError(.malformed, "strategy snapshot version \(bytes[4]) is not supported") }
        offset = 5
        let stored = try string()
        guard stored == name else {
            throw FederationError(.malformed, "the snapshot is of strategy \(stored), not \(name)")
        }
    }

    private mutating func take(_ count: Int) throws(FederationError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else {
            throw FederationError(.malformed, "strategy snapshot is truncated at byte \(offset)")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u64() throws(FederationError) -> UInt64 {
        let slice = try take(8)
        var value: UInt64 = 0
        for (i, b) in slice.enumerated() { value |= UInt64(b) << UInt64(8 * i) }
        return value
    }

    mutating func int() throws(FederationError) -> Int { Int(Int64(bitPattern: try u64())) }

    mutating func count(elementSize: Int) throws(FederationError) -> Int {
        let n = try int()
        guard n >= 0, n <= (bytes.count - offset) / elementSize else {
            throw FederationError(.malformed, "strategy snapshot declares \(n) elements past its end")
        }
        return n
    }

    mutating func bool() throws(FederationError) -> Bool {
        let b = try take(1)
        return b[b.startIndex] != 0
    }

    mutating func double() throws(FederationError) -> Double { Double(bitPattern: try u64()) }

    mutating func string() throws(FederationError) -> String {
        String(decoding: try take(try count(elementSize: 1)), as: UTF8.self)
    }

    mutating func blob() throws(FederationError) -> [UInt8] { Array(try take(try count(elementSize: 1))) }

    mutating func floats() throws(FederationError) -> [Float] {
        let n = try count(elementSize: 4)
        let slice = try take(4 * n)
        var out = [Float](repeating: 0, count: n)
        var i = slice.startIndex
        for k in 0..<n {
            let b = UInt32(slice[i]) | UInt32(slice[i + 1]) << 8 | UInt32(slice[i + 2]) << 16 | UInt32(slice[i + 3]) << 24
            out[k] = Float(bitPattern: b)
            i += 4
        }
        return out
    }

    mutating func doubles() throws(FederationError) -> [Double] {
        let n = try count(elementSize: 8)
        var out = [Double](repeating: 0, count: n)
        for k in 0..<n { out[k] = try double() }
        return out
    }

    /// Checks a stored setting against the strategy's own, so a snapshot is not restored into a
    /// strategy configured differently.
    mutating func expect(_ value: Double, _ key: String) throws(FederationError) {
        let stored = try double()
        guard stored.bitPattern == value.bitPattern else {
            throw FederationError(.invalidArgument, "the snapshot was taken with \(key) = \(stored), this strategy has \(value)")
        }
    }

    /// Fails unless every byte was read.
    func finish() throws(FederationError) {
        guard offset == bytes.count else {
            throw FederationError(.malformed, "strategy snapshot has \(bytes.count - offset) trailing bytes")
        }
    }
}
