import Core

/// The client's error-feedback memory for lossy update encodings (what top-k or int8 left out),
/// one file per model in the data directory: the layout digest (64 hex characters), then the
/// residual as little-endian float32. A file for another layout, or damaged, reads as none.
/// Its size is the model's parameter count, so it stays bounded.
struct ResidualFile {
    /// The file's path.
    var path: String

    /// The residual file of `model` under `directory`.
    init(directory: String, model: String) {
        path = directory + "/residual-" + model + ".bin"
    }

    /// The residual kept for `layout`, or nil.
    func read(layout: ParameterLayout) -> [Float]? {
        guard let bytes = try? FileIO.read(path), bytes.count == 64 + 4 * layout.count else { return nil }
        guard String(decoding: bytes[0..<64], as: UTF8.self) == layout.digest else { return nil }
        var values = [Float](repeating: 0, count: layout.count)
        for i in 0..<layout.count {
            let o = 64 + 4 * i
            let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
            values[i] = Float(bitPattern: bits)
        }
        return values.allSatisfy(\.isFinite) ? values : nil
    }

    /// Replaces the file with `residual` for `layout` (atomically).
    func write(_ residual: [Float], layout: ParameterLayout) throws(ModelError) {
        var bytes = Array(layout.digest.utf8)
        bytes.reserveCapacity(64 + 4 * residual.count)
        for value in residual {
            let bits = value.bitPattern
            bytes.append(contentsOf: [UInt8(bits & 0xff), UInt8(bits >> 8 & 0xff), UInt8(bits >> 16 & 0xff), UInt8(bits >> 24)])
        }
        try FileIO.writeAtomically(bytes, to: path)
    }
}
