import Core
import Testing

@Suite("UpdateCodec")
struct UpdateCodecTests {
    let layout = FederationFixtures.layout

    func roundTrip(_ v: [Float], _ e: UpdateEncoding) throws -> [Float] {
        var none: [Float]? = nil
        let payload = try UpdateCodec.encode(v, layout: layout, as: e, residual: &none)
        #expect(try UpdateCodec.encoding(of: payload, layout: layout).name == e.name)
        return try UpdateCodec.decode(payload, layout: layout)
    }

    @Test("float32 is exact")
    func float32() throws {
        let v = FederationFixtures.vector(seed: 1)
        #expect(try roundTrip(v, .float32) == v)
    }

    @Test("float16 keeps a relative error under 1e-3")
    func float16() throws {
        let v = FederationFixtures.vector(seed: 2)
        let out = try roundTrip(v, .float16)
        // Half precision has 11 significant bits (relative step 2^-11 ≈ 4.9e-4) above 2^-14.
        for (x, y) in zip(v, out) { #expect(abs(x - y) <= 1e-3 * abs(x) + 6e-8) }
    }

    @Test("int8 is within half a step of each tensor's scale")
    func int8() throws {
        let v = FederationFixtures.vector(seed: 3)
        let out = try roundTrip(v, .int8)
        for slot in layout.slots {
            let range = slot.offset..<(slot.offset + slot.count)
            let scale = v[range].map(abs).max()! / 127
            for i in range { #expect(abs(v[i] - out[i]) <= scale / 2 * 1.0001) }
        }
    }

    @Test("top-k keeps exactly the largest magnitudes", arguments: [0.01, 0.1, 0.25, 1.0])
    func topK(fraction: Double) throws {
        let v = FederationFixtures.vector(seed: 4)
        let out = try roundTrip(v, .topK(fraction: fraction))
        let k = Int((Double(v.count) * fraction).rounded(.up))
        let kept = out.indices.filter { out[$0] != 0 }
        #expect(kept.count == k)
        for i in kept { #expect(out[i] == v[i]) }
        let smallestKept = kept.map { abs(v[$0]) }.min()!
        for i in v.indices where out[i] == 0 { #expect(abs(v[i]) <= smallestKept) }
    }

    @Test("error feedback: what was sent plus the residual is what was meant", arguments: ["int8", "topk"])
    func errorFeedback(name: String) throws {
        let encoding = try UpdateEncoding(name: name, fraction: name == "topk" ? 0.1 : nil)
        let delta = FederationFixtures.vector(seed: 5)
        var residual: [Float]? = [Float](repeating: 0, count: delta.count)
        var sentSum = [Double](repeating: 0, count: delta.count)
        var plainSum = [Double](repeating: 0, count: delta.count)
        let rounds = 40
        for _ in 0..<rounds {
            let sent = try UpdateCodec.decode(
                try UpdateCodec.encode(delta, layout: layout, as: encoding, residual: &residual), layout: layout)
            var none: [Float]? = nil
            let plain = try UpdateCodec.decode(
                try UpdateCodec.encode(delta, layout: layout, as: encoding, residual: &none), layout: layout)
            for i in delta.indices {
                sentSum[i] += Double(sent[i])
                plainSum[i] += Double(plain[i])
            }
        }
        // Σ sent + residual = Σ delta exactly (up to float rounding), so the gap never grows.
        for i in delta.indices {
            #expect(abs(sentSum[i] + Double(residual![i]) - Double(rounds) * Double(delta[i])) <= 1e-3)
        }
        func relativeGap(_ sum: [Double]) -> Double {
            let gap = zip(sum, delta).map { ($0 / Double(rounds) - Double($1)) * ($0 / Double(rounds) - Double($1)) }
            return (gap.reduce(0, +) / delta.map { Double($0 * $0) }.reduce(0, +)).squareRoot()
        }
        #expect(relativeGap(sentSum) < 0.05)
        if name == "topk" { #expect(relativeGap(plainSum) > 0.1) }
    }

    // MARK: - Refusals

    func payload(body: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndianU32(UInt32(body.count))
        return out + (try Zstd.compress(body, level: 3))
    }

    func body(kind: UInt8, count: Int? = nil, tensors: Int? = nil, rest: [UInt8]) -> [UInt8] {
        var b = Array("SFLP".utf8) + [1, kind, 0, 0]
        b.appendLittleEndianU32(UInt32(count ?? layout.count))
        b.appendLittleEndianU32(UInt32(tensors ?? layout.slots.count))
        return b + rest
    }

    func expectRefused(_ bytes: [UInt8], _ code: FederationError.Code? = nil) {
        do {
            _ = try UpdateCodec.decode(bytes, layout: layout)
            Issue.record("decoded a malformed payload")
        } catch {
            if let code { #expect(error.code == code) }
        }
    }

    @Test("every truncation is refused")
    func truncated() throws {
        var none: [Float]? = nil
        for e in [UpdateEncoding.float32, .float16, .int8, .topK(fraction: 0.1)] {
            let full = try UpdateCodec.encode(FederationFixtures.vector(seed: 6), layout: layout, as: e, residual: &none)
            for n in stride(from: 0, to: full.count, by: max(1, full.count / 97)) { expectRefused(Array(full.prefix(n))) }
        }
    }

    @Test("bit flips in a payload never trap, and a flipped body header is refused")
    func bitFlips() throws {
        var none: [Float]? = nil
        let full = try UpdateCodec.encode(
            FederationFixtures.vector(seed: 7), layout: layout, as: .int8, residual: &none)
        for i in 0..<full.count {
            var bad = full
            bad[i] ^= 0x10
            // Compressed bytes may still decompress; a result must then have the layout's length.
            if let v = try? UpdateCodec.decode(bad, layout: layout) { #expect(v.count == layout.count) }
        }
        let int8Rest = [UInt8](repeating: 0, count: layout.slots.count * 4 + layout.count)
        var good = body(kind: 2, rest: int8Rest)
        #expect(try UpdateCodec.decode(try payload(body: good), layout: layout).count == layout.count)
        // Magic, version, encoding and the value count (the reserved u16 at 6...7 is not checked).
        for i in [0, 1, 2, 3, 4, 5, 8, 9] {
            good = body(kind: 2, rest: int8Rest)
            good[i] ^= 0x01
            expectRefused(try payload(body: good))
        }
    }

    @Test("wrong counts, bad top-k indices, bad scales and trailing bytes are refused")
    func malformedBodies() throws {
        let f32 = [UInt8](repeating: 0, count: 4 * layout.count)
        expectRefused(try payload(body: body(kind: 0, count: layout.count - 1, rest: f32)), .shapeMismatch)
        expectRefused(try payload(body: body(kind: 0, tensors: 1, rest: f32)), .shapeMismatch)
        expectRefused(try payload(body: body(kind: 0, rest: f32 + [0])), .malformed)
        expectRefused(try payload(body: body(kind: 0, rest: Array(f32.dropLast()))), .malformed)
        expectRefused(try payload(body: body(kind: 9, rest: f32)), .malformed)
        var nanScale: [UInt8] = []
        for _ in layout.slots { nanScale.appendLittleEndianU32(Float.nan.bitPattern) }
        expectRefused(try payload(body: body(kind: 2, rest: nanScale + [UInt8](repeating: 1, count: layout.count))), .malformed)
        func topK(_ k: UInt32, gaps: [UInt8]) -> [UInt8] {
            var rest: [UInt8] = []
            rest.appendLittleEndianU32(k)
            return body(kind: 3, rest: rest + gaps + [UInt8](repeating: 0, count: 4 * Int(k)))
        }
        #expect(try UpdateCodec.decode(try payload(body: topK(2, gaps: [3, 4])), layout: layout).count == layout.count)
        expectRefused(try payload(body: topK(2, gaps: [3, 0])), .malformed)  // a repeated index
        let past = UInt32(layout.count)
        expectRefused(try payload(body: topK(1, gaps: [UInt8(past & 0x7F) | 0x80, UInt8(past >> 7)])), .malformed)
        expectRefused(try payload(body: topK(UInt32(layout.count + 1), gaps: [])), .malformed)
        expectRefused(try payload(body: topK(1, gaps: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])), .malformed)
        var huge: [UInt8] = []
        huge.appendLittleEndianU32(UInt32.max)
        expectRefused(huge + (try Zstd.compress([1, 2, 3])), .malformed)
        expectRefused(try payload(body: body(kind: 0, rest: f32)).dropLast(3).map { $0 }, .malformed)
    }
}

extension [UInt8] {
    mutating func appendLittleEndianU32(_ v: UInt32) {
        for n in 0..<4 { append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(n)))) }
    }
}
