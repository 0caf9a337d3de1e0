/// An element type of the Open Inference Protocol (the `datatype` field of a tensor).
public enum DataType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8"
    case uint16 = "UINT16"
    case uint32 = "UINT32"
    case uint64 = "UINT64"
    case int8 = "INT8"
    case int16 = "INT16"
    case int32 = "INT32"
    case int64 = "INT64"
    case fp16 = "FP16"
    case bf16 = "BF16"
    case fp32 = "FP32"
    case fp64 = "FP64"
    case bytes = "BYTES"

    /// Bytes per element in the binary tensor extension; nil for BYTES (length-prefixed).
    public var byteSize: Int? {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16, .fp16, .bf16: 2
        case .uint32, .int32, .fp32: 4
        case .uint64, .int64, .fp64: 8
        case .bytes: nil
        }
    }

    /// Whether values of this type can feed a float model input (every number type).
    public var isNumber: Bool {
        switch self {
        case .bool, .bytes: false
        default: true
        }
    }

    /// Whether JSON values must be whole numbers.
    var isInteger: Bool {
        switch self {
        case .uint8, .uint16, .uint32, .uint64, .int8, .int16, .int32, .int64: true
        default: false
        }
    }

    /// The inclusive range of whole-number types, as doubles (for JSON range checks; the 64-bit
    /// ends round to the nearest double, and the value becomes a Float anyway).
    var integerRange: ClosedRange<Double>? {
        switch self {
        case .uint8: 0...255
        case .uint16: 0...65535
        case .uint32: 0...4_294_967_295
        case .uint64: 0...Double(UInt64.max)
        case .int8: -128...127
        case .int16: -32768...32767
        case .int32: -2_147_483_648...2_147_483_647
        case .int64: Double(Int64.min)...Double(Int64.max)
        default: nil
        }
    }
}
