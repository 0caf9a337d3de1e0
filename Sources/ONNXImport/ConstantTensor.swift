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

    /// The values a narrow integer type can hold (nil for float and 64-bit types).
    var range: ClosedRange<Double>? {
        switch self {
        case .uint8: 0...255
        case .int8: -128...127
        case .uint16: 0...65535
        case .int16: -32768...32767
        case .int32: -2_147_483_648...2_147_483_647
        case .uint32: 0...4_294_967_295
        case .bool: 0...1
        case .float, .double, .int64, .uint64: nil
        }
    }

    /// True for the integer types.
    var isInteger: Bool { self != .float && self != .double }
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
        var count = 1
        for d in proto.dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(clamping: d))
            guard d >= 0, !overflow, product <= 1 << 31 else {
                throw ModelError(.corruptFile, "\(what) has invalid dimensions \(proto.dims)")
            }
            count = product
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
        guard values.count == count else {
            throw ModelError(.corruptFile, "\(what) holds \(values.count) values for shape \(proto.dims)")
        }
        if let range = type.range, !values.allSatisfy({ range.contains($0) }) {
            throw ModelError(.corruptFile, "\(what) holds values outside the range of \(type)")
        }
        self.init(shape: proto.dims.map { Int($0) }, values: values, type: type)
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

    /// The tensor with its axes permuted: result axis i is axis `perm[i]` of self.
    func permuted(_ perm: [Int]) -> ConstantTensor {
        let newShape = perm.map { shape[$0] }
        let index = Self.permutationIndex(shape: shape, perm: perm)
        var result = ConstantTensor(shape: newShape, values: index.map { values[$0] }, type: type)
        if var o = origin {
            o.codes = index.map { o.codes[$0] }
            o.axis = o.axis.map { perm.firstIndex(of: $0)! }
            result.origin = o
        }
        return result
    }

    /// For each element of the permuted tensor, its index in the original.
    static func permutationIndex(shape: [Int], perm: [Int]) -> [Int] {
        let rank = shape.count
        var strides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        let newShape = perm.map { shape[$0] }
        let newStrides = perm.map { strides[$0] }
        let total = shape.reduce(1, *)
        var out = [Int](repeating: 0, count: total)
        var counter = [Int](repeating: 0, count: rank)
        var source = 0
        for i in 0..<total {
            out[i] = source
            var axis = rank - 1
            while axis >= 0 {
                counter[axis] += 1
                source += newStrides[axis]
                if counter[axis] < newShape[axis] { break }
                source -= newStrides[axis] * newShape[axis]
                counter[axis] = 0
                axis -= 1
            }
        }
        return out
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

    /// Numpy broadcast of `self` to `target` (which it must broadcast to).
    func broadcast(to target: [Int]) -> ConstantTensor? {
        guard let out = broadcastShapes(shape, target), out == target else { return nil }
        if shape == target { return self }
        let padded = [Int](repeating: 1, count: target.count - shape.count) + shape
        var strides = [Int](repeating: 0, count: target.count)
        var s = 1
        for i in stride(from: target.count - 1, through: 0, by: -1) {
            strides[i] = padded[i] == 1 ? 0 : s
            s *= padded[i]
        }
        let total = target.reduce(1, *)
        var values = [Double](repeating: 0, count: total)
        for i in 0..<total {
            var rest = i
            var source = 0
            for axis in stride(from: target.count - 1, through: 0, by: -1) {
                source += (rest % target[axis]) * strides[axis]
                rest /= target[axis]
            }
            values[i] = self.values[source]
        }
        return ConstantTensor(shape: target, values: values, type: type)
    }
}

/// Numpy broadcasting of two ONNX shapes where -1 marks the batch; nil when they do not broadcast.
func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        if x == y || y == 1 {
            out[i] = x
        } else if x == 1 || x == -1 {
            out[i] = y
        } else if y == -1 {
            out[i] = x
        } else {
            return nil
        }
    }
    return out
}
