/// The `data` member of a JSON tensor: row-major, flat or nested, with elements of the
/// declared datatype (numbers, booleans or strings).
enum JSONTensorData {
    /// Flattens `data` and checks it holds `count` elements of `datatype`.
    static func decode(_ data: JSONValue, datatype: DataType, count: Int, name: String) throws(InferenceError)
        -> InferenceTensor.Values
    {
        if datatype.isNumber {
            var values: [Float] = []
            values.reserveCapacity(min(count, 1 << 20))
            try numbers(data, into: &values, limit: count, range: datatype.integerRange, datatype: datatype, name: name)
            guard values.count == count else {
                throw InferenceError(
                    .invalidRequest, "input '\(name)' has \(values.count) data elements, its shape holds \(count)")
            }
            return .numbers(values)
        }
        var flat: [JSONValue] = []
        try flatten(data, into: &flat, limit: count, name: name)
        guard flat.count == count else {
            throw InferenceError(.invalidRequest, "input '\(name)' has \(flat.count) data elements, its shape holds \(count)")
        }
        if datatype == .bytes {
            var strings: [[UInt8]] = []
            strings.reserveCapacity(count)
            for (i, element) in flat.enumerated() {
                guard case .string(let text) = element else {
                    throw InferenceError(
                        .invalidRequest, "input '\(name)' is BYTES but element \(i) is \(element.kind), not a string")
                }
                strings.append(Array(text.utf8))
            }
            return .bytes(strings)
        }
        var values: [Float] = []
        values.reserveCapacity(count)
        for (i, element) in flat.enumerated() {
            guard case .bool(let b) = element else {
                throw InferenceError(
                    .invalidRequest, "input '\(name)' is BOOL but element \(i) is \(element.kind), not true or false")
            }
            values.append(b ? 1 : 0)
        }
        return .numbers(values)
    }

    /// Appends the numbers of nested arrays in row-major order, checking whole-number types'
    /// ranges and stopping past `limit`.
    private static func numbers(
        _ value: JSONValue, into values: inout [Float], limit: Int, range: ClosedRange<Double>?, datatype: DataType, name: String
    ) throws(InferenceError) {
        switch value {
        case .numbers(let doubles):
            guard values.count + doubles.count <= limit else {
                throw InferenceError(.invalidRequest, "input '\(name)' has more data elements than its shape holds (\(limit))")
            }
            if let range {
                for d in doubles { try append(d, to: &values, range: range, datatype: datatype, name: name) }
            } else {
                for d in doubles { values.append(Float(d)) }
            }
        case .number(let d):
            guard values.count < limit else {
                throw InferenceError(.invalidRequest, "input '\(name)' has more data elements than its shape holds (\(limit))")
            }
            if let range {
                try append(d, to: &values, range: range, datatype: datatype, name: name)
            } else {
                values.append(Float(d))
            }
        case .array(let items):
            for item in items { try numbers(item, into: &values, limit: limit, range: range, datatype: datatype, name: name) }
        case .object:
            throw InferenceError(.invalidRequest, "input '\(name)': 'data' must be an array, got an object")
        default:
            throw InferenceError(
                .invalidRequest,
                "input '\(name)' is \(datatype.rawValue) but element \(values.count) is \(value.kind), not a number")
        }
    }

    private static func append(
        _ d: Double, to values: inout [Float], range: ClosedRange<Double>, datatype: DataType, name: String
    ) throws(InferenceError) {
        guard d == d.rounded(), range.contains(d) else {
            throw InferenceError(
                .invalidRequest, "input '\(name)': element \(values.count) (\(d)) is not a valid \(datatype.rawValue)")
        }
        values.append(Float(d))
    }

    /// Appends the leaves of nested arrays in row-major order, stopping past `limit`.
    private static func flatten(_ value: JSONValue, into flat: inout [JSONValue], limit: Int, name: String) throws(InferenceError)
    {
        switch value {
        case .array, .numbers:
            for item in value.elements ?? [] {
                if item.elements != nil {
                    try flatten(item, into: &flat, limit: limit, name: name)
                } else {
                    flat.append(item)
                }
                guard flat.count <= limit else {
                    throw InferenceError(
                        .invalidRequest, "input '\(name)' has more data elements than its shape holds (\(limit))")
                }
            }
        case .object:
            throw InferenceError(.invalidRequest, "input '\(name)': 'data' must be an array, got an object")
        default:
            flat.append(value)
        }
    }
}
