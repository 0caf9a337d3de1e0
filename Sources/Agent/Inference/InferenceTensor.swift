/// A named tensor of an inference request or response, in the protocol's terms: a datatype,
/// a shape whose first dimension is the batch, and its elements in row-major order.
public struct InferenceTensor: Sendable, Equatable {
    /// Elements: numbers (every number type is read as Float, which the int8 runtime takes) or
    /// byte strings (BYTES).
    public enum Values: Sendable, Equatable {
        /// Number elements.
        case numbers([Float])
        /// BYTES elements.
        case bytes([[UInt8]])

        /// Number of elements.
        public var count: Int {
            switch self {
            case .numbers(let values): values.count
            case .bytes(let values): values.count
            }
        }
    }

    /// Tensor name.
    public var name: String
    /// Declared element type.
    public var datatype: DataType
    /// Dimensions.
    public var shape: [Int]
    /// Elements, row-major.
    public var values: Values

    /// A tensor; the caller makes `values.count` match `shape`.
    public init(name: String, datatype: DataType, shape: [Int], values: Values) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.values = values
    }

    /// Number of elements the shape holds, or nil when it overflows or has a negative dimension.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }
}

/// The name, element type and shape of a model input or output; -1 marks a dimension of any
/// size (the batch).
public struct TensorSpec: Sendable, Equatable {
    /// Tensor name.
    public var name: String
    /// Element type.
    public var datatype: DataType
    /// Dimensions, -1 for any size.
    public var shape: [Int]

    /// A spec.
    public init(name: String, datatype: DataType, shape: [Int]) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
    }
}
