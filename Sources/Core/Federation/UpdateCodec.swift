/// Encodes parameter vectors (updates going up, global parameters going down) for the wire and
/// reads them back.
///
/// Payload: a u32 (little-endian) with the raw body's size, then the body compressed with zstd.
/// Body, little-endian: magic `SFLP` (4), version (u8, 1), encoding (u8: 0 float32, 1 float16,
/// 2 int8, 3 top-k), reserved (u16, 0), value count (u32), tensor count (u32), then
/// - float32: `count` f32;
/// - float16: `count` IEEE half;
/// - int8: one f32 scale per tensor, then `count` i8 (value = scale × q; symmetric, q in −127…127);
/// - top-k: kept count k (u32), k indices as gaps from the previous index (LEB128), k f32 values.
///
/// The decoder knows the layout and refuses a body whose counts disagree with it, so a
/// vector for another model never reaches the math.
public enum UpdateCodec {
    static let magic: [UInt8] = Array("SFLP".utf8)
    static let version: UInt8 = 1

    /// `values` encoded as `encoding` and zstd-compressed. With a `residual` (the client's error
    /// feedback, the layout's length), the residual is added before a lossy encoding and what the
    /// encoding dropped is kept in it for next time.
    public static func encode(
        _ values: [Float], layout: ParameterLayout, as encoding: UpdateEncoding, residual: inout [Float]?
    ) throws(FederationError) -> [UInt8] {
        guard values.count == layout.count else {
            throw FederationError(.shapeMismatch, "the vector has \(values.count) values; the layout has \(layout.count)")
        }
        var v = values
        if let r = residual, encoding != .float32 {
            guard r.count == v.count else {
                throw FederationError(.shapeMismatch, "the residual has \(r.count) values; the layout has \(layout.count)")
            }
            for i in 0..<v.count { v[i] += r[i] }
        }
        var body = magic
        body.append(version)
        body.append(code(encoding))
        body.appendLittleEndian(UInt16(0))
        body.appendLittleEndian(UInt32(v.count))
        body.appendLittleEndian(UInt32(layout.slots.count))
        var sent = v
        switch encoding {
        case .float32:
            for x in v { body.appendLittleEndian(x.bitPattern) }
        case .float16:
            for i in 0..<v.count {
                let h = Float16(v[i])
                body.appendLittleEndian(h.bitPattern)
                sent[i] = Float(h)
            }
        case .int8:
            var scales: [Float] = []
            for slot in layout.slots {
                var peak: Float = 0
                for i in slot.offset..<(slot.offset + slot.count) { peak = max(peak, abs(v[i])) }
                scales.append(peak > 0 ? peak / 127 : 0)
            }
            for s in scales { body.appendLittleEndian(s.bitPattern) }
            for (slot, scale) in zip(layout.slots, scales) {
                for i in slot.offset..<(slot.offset + slot.count) {
                    let q = scale > 0 ? max(-127, min(127, (v[i] / scale).rounded())) : 0
                    body.append(UInt8(bitPattern: Int8(q)))
                    sent[i] = q * scale
                }
            }
        case .topK(let fraction):
            let k = max(1, min(v.count, Int((Double(v.count) * fraction).rounded(.up))))
            let kept = v.isEmpty ? [] : largestMagnitudes(v, k).sorted()
            body.appendLittleEndian(UInt32(kept.count))
            var previous = 0
            for index in kept {
                appendLEB128(&body, UInt32(index - previous))
                previous = index
            }
            for index in kept { body.appendLittleEndian(v[index].bitPattern) }
            sent = [Float](repeating: 0, count: v.count)
            for index in kept { sent[index] = v[index] }
        }
        if residual != nil, encoding != .float32 {
            residual = zip(v, sent).map { $0 - $1 }
        }
        let compressed: [UInt8]
        do {
            compressed = try Zstd.compress(body, level: 9)
        } catch {
            throw FederationError(.malformed, "the update could not be compressed: \(error)")
        }
        var out: [UInt8] = []
        out.reserveCapacity(4 + compressed.count)
        out.appendLittleEndian(UInt32(body.count))
        out.append(contentsOf: compressed)
        return out
    }

    /// The encoding a payload says it uses (without decoding the values).
    public static func encoding(of payload: [UInt8], layout: ParameterLayout) throws(FederationError) -> UpdateEncoding {
        try decodeBody(payload, layout: layout).encoding
    }

    /// The dense vector `payload` holds; throws `malformed` or `shapeMismatch` rather than trap.
    public static func decode(_ payload: [UInt8], layout: ParameterLayout) throws(FederationError) -> [Float] {
        try decodeBody(payload, layout: layout).values
    }

    private static func decodeBody(
        _ payload: [UInt8], layout: ParameterLayout
    ) throws(FederationError) -> (encoding: UpdateEncoding, values: [Float]) {
        guard payload.count >= 4 else { throw FederationError(.malformed, "the update payload is truncated") }
        let rawSize = Int(UInt32(payload[0]) | UInt32(payload[1]) << 8 | UInt32(payload[2]) << 16 | UInt32(payload[3]) << 24)
        let bound = 16 + layout.count * 9 + layout.slots.count * 4 + 16
        guard rawSize <= bound else {
            throw FederationError(.malformed, "the update declares \(rawSize) bytes; a \(layout.count)-value update needs at most \(bound)")
        }
        let body: [UInt8]
        do {
            body = try Zstd.decompress(Array(payload[4...]), expectedSize: rawSize)
        } catch {
            throw FederationError(.malformed, "the update payload does not decompress: \(error)")
        }
        var r = ByteReader(bytes: body)
        guard try r.take(4) == magic[...] else { throw FederationError(.malformed, "the update has no SFLP header") }
        guard try r.u8() == version else { throw FederationError(.malformed, "the update's version is not \(version)") }
        let kind = try r.u8()
        _ = try r.u16()
        let count = Int(try r.u32())
        let tensors = Int(try r.u32())
        guard count == layout.count, tensors == layout.slots.count else {
            throw FederationError(
                .shapeMismatch,
                "the update has \(count) values in \(tensors) tensors; the model has \(layout.count) in \(layout.slots.count)")
        }
        var out = [Float](repeating: 0, count: count)
        let encoding: UpdateEncoding
        switch kind {
        case 0:
            encoding = .float32
            for i in 0..<count { out[i] = Float(bitPattern: try r.u32()) }
        case 1:
            encoding = .float16
            for i in 0..<count { out[i] = Float(Float16(bitPattern: try r.u16())) }
        case 2:
            encoding = .int8
            var scales: [Float] = []
            for _ in 0..<tensors { scales.append(Float(bitPattern: try r.u32())) }
            for (slot, scale) in zip(layout.slots, scales) {
                guard scale.isFinite, scale >= 0 else { throw FederationError(.malformed, "an int8 scale is \(scale)") }
                for i in slot.offset..<(slot.offset + slot.count) { out[i] = Float(Int8(bitPattern: try r.u8())) * scale }
            }
        case 3:
            let k = Int(try r.u32())
            guard k <= count else { throw FederationError(.malformed, "top-k keeps \(k) of \(count) values") }
            encoding = .topK(fraction: count == 0 ? 1 : Double(k) / Double(count))
            var indices: [Int] = []
            indices.reserveCapacity(k)
            var index = 0
            for n in 0..<k {
                let gap = Int(try r.leb128())
                guard n == 0 || gap > 0 else { throw FederationError(.malformed, "top-k indices repeat") }
                index += gap
                guard index < count else { throw FederationError(.malformed, "a top-k index is past the end") }
                indices.append(index)
            }
            for i in indices { out[i] = Float(bitPattern: try r.u32()) }
        default:
            throw FederationError(.malformed, "unknown update encoding \(kind)")
        }
        guard r.atEnd else { throw FederationError(.malformed, "the update has trailing bytes") }
        return (encoding, out)
    }

    private static func code(_ e: UpdateEncoding) -> UInt8 {
        switch e {
        case .float32: 0
        case .float16: 1
        case .int8: 2
        case .topK: 3
        }
    }

    /// Indices of the `k` largest |v| (ties broken by lower index), unordered.
    static func largestMagnitudes(_ v: [Float], _ k: Int) -> [Int] {
        if k >= v.count { return Array(0..<v.count) }
        // The k-th largest magnitude by selection on a copy, then a pass to collect.
        var mags = v.map { abs($0) }
        var lo = 0
        var hi = mags.count - 1
        let target = mags.count - k
        while lo < hi {
            let pivot = mags[(lo + hi) / 2]
            var i = lo
            var j = hi
            while i <= j {
                while mags[i] < pivot { i += 1 }
                while mags[j] > pivot { j -= 1 }
                if i <= j {
                    mags.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { break }
        }
        let threshold = mags[target]
        var above: [Int] = []
        var equal: [Int] = []
        for (i, x) in v.enumerated() {
            let m = abs(x)
            if m > threshold { above.append(i) } else if m == threshold { equal.append(i) }
        }
        return above + equal.prefix(k - above.count)
    }

    private static func appendLEB128(_ out: inout [UInt8], _ value: UInt32) {
        var v = value
        repeat {
            var byte = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { byte |= 0x80 }
            out.append(byte)
        } while v != 0
    }
}

/// A bounds-checked little-endian reader; throws `malformed` instead of trapping.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func take(_ n: Int) throws(FederationError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - offset else { throw FederationError(.malformed, "the update body is truncated") }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    mutating func u8() throws(FederationError) -> UInt8 { try take(1).first! }

    mutating func u16() throws(FederationError) -> UInt16 {
        let b = try take(2)
        return UInt16(b[b.startIndex]) | UInt16(b[b.startIndex + 1]) << 8
    }

    mutating func u32() throws(FederationError) -> UInt32 {
        let b = try take(4)
        var v: UInt32 = 0
        for (n, byte) in b.enumerated() { v |= UInt32(byte) << (8 * UInt32(n)) }
        return v
    }

    mutating func leb128() throws(FederationError) -> UInt32 {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = try u8()
            guard shift < 32 else { throw FederationError(.malformed, "a top-k index gap is too long") }
            result |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
}
