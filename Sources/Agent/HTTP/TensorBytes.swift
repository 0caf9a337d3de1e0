/// The binary tensor data extension's element encoding: little-endian, row-major, no padding;
/// BOOL is one byte; each BYTES element is a 4-byte little-endian length and its bytes.
enum TensorBytes {
    /// Reads `count` elements of `datatype` from exactly `bytes`.
    static func decode(_ bytes: UnsafeRawBufferPointer, datatype: DataType, count: Int, name: String) throws(InferenceError)
        -> InferenceTensor.Values
    {
        guard let size = datatype.byteSize else { return .bytes(try decodeStrings(bytes, count: count, name: name)) }
        let (expected, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, expected == bytes.count else {
            throw InferenceError(
                .invalidRequest,
                "input '\(name)' has \(bytes.count) bytes of binary data; \(count) \(datatype.rawValue) elements take \(overflow ? "more" : String(expected))"
            )
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { out in
            switch datatype {
            case .fp32:
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            case .fp64:
                for i in 0..<count {
                    out[i] = Float(
                        Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
                }
            case .fp16:
                for i in 0..<count {
                    out[i] = halfToFloat(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    out[i] = Float(
                        bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                            << 16)
                }
            case .bool, .uint8: for i in 0..<count { out[i] = Float(bytes[i]) }
            case .int8: for i in 0..<count { out[i] = Float(Int8(bitPattern: bytes[i])) }
            case .uint16: convert(bytes, UInt16.self, into: out)
            case .int16: convert(bytes, Int16.self, into: out)
            case .uint32: convert(bytes, UInt32.self, into: out)
            case .int32: convert(bytes, Int32.self, into: out)
            case .uint64: convert(bytes, UInt64.self, into: out)
            case .int64: convert(bytes, Int64.self, into: out)
            case .bytes: break
            }
        }
        if datatype == .bool, let bad = values.firstIndex(where: { $0 > 1 }) {
            throw InferenceError(.invalidRequest, "input '\(name)': BOOL element \(bad) is \(Int(values[bad])), not 0 or 1")
        }
        return .numbers(values)
    }

    /// Little-endian integers of type `T` from `bytes`, one per element of `out`, as floats.
    private static func convert<T: FixedWidthInteger>(
        _ bytes: UnsafeRawBufferPointer, _: T.Type, into out: UnsafeMutableBufferPointer<Float>
    ) {
        for i in out.indices {
            out[i] = Float(T(littleEndian: bytes.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
        }
    }

    private static func decodeStrings(_ bytes: UnsafeRawBufferPointer, count: Int, name: String) throws(InferenceError)
        -> [[UInt8]]
    {
        var strings: [[UInt8]] = []
        var offset = 0
        for i in 0..<count {
            guard offset + 4 <= bytes.count else {
                throw InferenceError(.invalidRequest, "input '\(name)': binary BYTES data ends before element \(i) of \(count)")
            }
            let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
            guard length <= bytes.count - offset else {
                throw InferenceError(
                    .invalidRequest,
                    "input '\(name)': BYTES element \(i) claims \(length) bytes, only \(bytes.count - offset) remain")
            }
            strings.append(Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])))
            offset += length
        }
        guard offset == bytes.count else {
            throw InferenceError(
                .invalidRequest, "input '\(name)': \(bytes.count - offset) bytes of BYTES data are left after \(count) elements")
        }
        return strings
    }

    /// IEEE 754 half precision to single (exact).
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        default:
            return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }

    /// Appends `values` in the binary encoding of `datatype` (FP32 or BYTES, what outputs use).
    static func append(_ values: InferenceTensor.Values, to out: inout [UInt8]) {
        switch values {
        case .numbers(let floats):
            out.reserveCapacity(out.count + floats.count * 4)
            for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .bytes(let strings):
            for string in strings {
                withUnsafeBytes(of: UInt32(string.count).littleEndian) { out.append(contentsOf: $0) }
                out.append(contentsOf: string)
            }
        }
    }

    /// Bytes `append` writes for `values`.
    static func size(of values: InferenceTensor.Values) -> Int {
        switch values {
        case .numbers(let floats): floats.count * 4
        case .bytes(let strings): strings.reduce(0) { $0 + 4 + $1.count }
        }
    }
}
