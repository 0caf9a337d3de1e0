import Core
import Foundation

/// ONNX element types the importer reads.
enum ElementType: Int32 {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, bool = 9, double = 11
    case uint32 = 12, uint64 = 13

    /// Bytes per element in `raw_data`.
    var size: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .float, .int32, .uint32: 4
        case .int64, .double, .uint64: 8
        }
    }

    /// The values an integer type can hold (nil for the float types). The 64-bit bounds are the
    /// nearest doubles (±2^63, 2^64), which is as close as `ConstantTensor`'s values can tell.
    var range: ClosedRange<Double>? {
        switch self {
        case .uint8: 0...255
        case .int8: -128...127
        case .uint16: 0...65535
        case .int16: -32768...32767
        case .int32: -2_147_483_648...2_147_483_647
        case .uint32: 0...4_294_967_295
        case .int64: -9_223_372_036_854_775_808...9_223_372_036_854_775_808
        case .uint64: 0...18_446_744_073_709_551_616
        case .bool: 0...1
        case .float, .double: nil
        }
    }

    /// True for the integer types.
    var isInteger: Bool { self != .float && self != .double }

    /// True when every value of the type is exact in float32 (so layout changes may go through `Tensor`).
    var fitsFloat32: Bool {
        switch self {
        case .float, .uint8, .int8, .uint16, .int16, .bool: true
        case .int32, .uint32, .int64, .uint64, .double: false
        }
    }
}

/// Integer codes behind a constant that came out of DequantizeLinear: value = (code − zeroPoint) · scale.
struct QuantizedOrigin {
    /// Codes in the constant's layout.
    var codes: [Double]
    /// One scale per slice along `axis`, or one for the whole tensor.
    var scales: [Float]
    /// Zero points, one per scale.
    var zeroPoints: [Double]
    /// The axis the scales run along (nil when per tensor).
    var axis: Int?
    /// The element type of the codes.
    var type: ElementType
}

/// A constant tensor in ONNX layout. Values are widened to Double, exact for every float32 and
/// 32-bit integer and for int64 up to 2^53 (far past any shape or index).
struct ConstantTensor {
    var shape: [Int]
    var values: [Double]
    var type: ElementType
    /// Set when the constant is a dequantized integer tensor (a QDQ weight or bias).
    var origin: QuantizedOrigin?

    var count: Int { values.count }

    init(shape: [Int], values: [Double], type: ElementType, origin: QuantizedOrigin? = nil) {
        self.shape = shape
        self.values = values
        self.type = type
        self.origin = origin
    }

    /// Decodes `proto`; `what` names it in errors.
    init(_ proto: Onnx_TensorProto, what: String) throws(ModelError) {
        guard let type = ElementType(rawValue: proto.dataType) else {
            throw ModelError(.unsupportedOp, "\(what) has ONNX element type \(proto.dataType), which Starling does not import")
        }
        guard proto.dataLocation != .external else {
            throw ModelError(.unsupportedOp, "\(what) keeps its data in an external file; save the model with all tensors inline")
        }
        guard !proto.hasSegment else { throw ModelError(.unsupportedOp, "\(what) is a segment of a larger tensor") }
        let shape = proto.dims.map { Int(clamping: $0) }
        guard let count = Self.elementCount(shape) else {
            throw ModelError(.corruptFile, "\(what) has invalid dimensions \(proto.dims)")
        }
        let values: [Double]
        if proto.hasRawData {
            values = try Self.decodeRaw(proto.rawData, type: type, count: count, what: what)
        } else {
            switch type {
            case .float: values = proto.floatData.map(Double.init)
            case .double: values = proto.doubleData
            case .int64: values = proto.int64Data.map(Double.init)
            case .uint32, .uint64: values = proto.uint64Data.map(Double.init)
            case .uint8, .int8, .uint16, .int16, .int32, .bool: values = proto.int32Data.map(Double.init)
            }
        }
        self.init(shape: shape, values: values, type: type)
        try validate { ModelError(.corruptFile, "\(what) holds \($0)") }
    }

    /// The most elements a constant may have, and the bound on every partial product of its nonzero
    /// dimensions (so no shape arithmetic on it can overflow).
    static let maxElements = 1 << 31

    /// The element count of `shape`, or nil when a dimension is negative or the nonzero
    /// dimensions multiply past `maxElements`.
    static func elementCount(_ shape: [Int]) -> Int? {
        var nonzero = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (product, overflow) = nonzero.multipliedReportingOverflow(by: Swift.max(d, 1))
            guard !overflow, product <= maxElements else { return nil }
            nonzero = product
        }
        return shape.contains(0) ? 0 : nonzero
    }

    /// Throws `fail(reason)` unless the shape is sane, holds exactly `count` values, and every value
    /// fits `type` (integer types hold whole numbers in their range). Run on every constant the
    /// importer reads or folds, so later narrowing conversions (`Int8`, `Int32`) cannot trap.
    func validate(_ fail: (String) -> ModelError) throws(ModelError) {
        guard let expected = Self.elementCount(shape) else { throw fail("invalid dimensions \(shape)") }
        guard values.count == expected else { throw fail("\(values.count) values for shape \(shape)") }
        guard let range = type.range else { return }
        if let bad = values.first(where: { !range.contains($0) || $0.rounded() != $0 }) {
            throw fail("the value \(bad), which \(type) cannot hold")
        }
    }

    private static func decodeRaw(_ data: Data, type: ElementType, count: Int, what: String) throws(ModelError) -> [Double] {
        guard data.count == count * type.size else {
            throw ModelError(.corruptFile, "\(what) has \(data.count) bytes of data for \(count) values of type \(type)")
        }
        return data.withUnsafeBytes { raw in
            (0..<count).map { i -> Double in
                let at = i * type.size
                switch type {
                case .float:
                    return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                case .double:
                    return Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                case .uint8, .bool: return Double(raw[at])
                case .int8: return Double(Int8(bitPattern: raw[at]))
                case .uint16: return Double(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                case .int16: return Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)))
                case .int32: return Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)))
                case .uint32: return Double(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                case .int64: return Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)))
                case .uint64: return Double(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                }
            }
        }
    }

    /// The values as float32, in ONNX layout.
    var tensor: Tensor {
        Tensor(shape: shape, scalars: values.map { Float($0) })
    }

    /// The values as integers (shapes, axes); nil unless every value is a whole number that fits Int.
    var integers: [Int]? {
        var out: [Int] = []
        out.reserveCapacity(count)
        for v in values {
            guard v.rounded() == v, abs(v) < 9.0e15 else { return nil }
            out.append(Int(v))
        }
        return out
    }

    /// The single value of a scalar or one-element tensor.
    var scalar: Double? { count == 1 ? values[0] : nil }

    // MARK: - Layout changes

    /// The tensor with its axes permuted: result axis i is axis `perm[i]` of self (which must be a
    /// permutation of its axes).
    func permuted(_ perm: [Int]) -> ConstantTensor {
        let newShape = perm.map { shape[$0] }
        var result = ConstantTensor(shape: newShape, values: Self.transpose(values, shape, perm, type), type: type)
        if var o = origin {
            o.codes = Self.transpose(o.codes, shape, perm, o.type)
            o.axis = o.axis.map { perm.firstIndex(of: $0)! }
            result.origin = o
        }
        return result
    }

    /// `values` (laid out as `shape`) with axes permuted; an index walk keeps every bit of wide
    /// integers and float64.
    private static func transpose(_ values: [Double], _ shape: [Int], _ perm: [Int], _ type: ElementType) -> [Double] {
        Tensor.transposedIndices(shape, perm).map { values[$0] }
    }

    /// The same values under `newShape`; a per-channel origin keeps its axis when that axis survives.
    func reshaped(_ newShape: [Int]) -> ConstantTensor {
        var result = ConstantTensor(shape: newShape, values: values, type: type)
        if var o = origin {
            if let axis = o.axis {
                let outer = shape[..<axis].reduce(1, *)
                o.axis = newShape.indices.first { newShape[..<$0].reduce(1, *) == outer && newShape[$0] == shape[axis] }
                if o.axis == nil { return result }
            }
            result.origin = o
        }
        return result
    }
}
