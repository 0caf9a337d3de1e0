/// A decoded `POST .../infer` request.
struct InferenceRequest {
    /// An output the client asked for, with its per-output binary choice.
    struct RequestedOutput {
        var name: String
        var binary: Bool?
    }

    /// The client's request id, echoed in the response.
    var id: String?
    /// Input tensors in request order.
    var inputs: [InferenceTensor]
    /// Outputs asked for, in order; nil means every output.
    var outputs: [RequestedOutput]?
    /// `parameters.binary_data_output`: every output in binary unless it says otherwise.
    var binaryOutput: Bool

    /// Decodes a request body. `headerLength` is the `Inference-Header-Content-Length` header:
    /// when present the body is that many bytes of JSON followed by the binary tensor data.
    static func decode(body: UnsafeRawBufferPointer, headerLength: Int?) throws(InferenceError) -> InferenceRequest {
        var jsonBytes = body
        var binary = UnsafeRawBufferPointer(start: nil, count: 0)
        if let headerLength {
            guard headerLength >= 0, headerLength <= body.count else {
                throw InferenceError(
                    .invalidRequest,
                    "Inference-Header-Content-Length is \(headerLength) but the body has only \(body.count) bytes")
            }
            jsonBytes = UnsafeRawBufferPointer(rebasing: body[0..<headerLength])
            binary = UnsafeRawBufferPointer(rebasing: body[headerLength...])
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(jsonBytes)
        } catch {
            throw InferenceError(.invalidRequest, "the request is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object = json else { throw InferenceError(.invalidRequest, "the request must be a JSON object") }
        var request = InferenceRequest(id: nil, inputs: [], outputs: nil, binaryOutput: false)
        switch json["id"] {
        case nil: break
        case .string(let id)?: request.id = id
        case let other?: throw InferenceError(.invalidRequest, "'id' must be a string, got \(other.kind)")
        }
        if let parameters = json["parameters"] {
            guard case .object = parameters else { throw InferenceError(.invalidRequest, "'parameters' must be an object") }
            request.binaryOutput = try bool(parameters["binary_data_output"], "parameters.binary_data_output") ?? false
        }
        guard let inputs = json["inputs"]?.elements, !inputs.isEmpty else {
            throw InferenceError(.invalidRequest, "'inputs' must be a non-empty array of tensors")
        }
        var reader = BinaryReader(bytes: binary)
        for input in inputs { request.inputs.append(try decodeInput(input, binary: &reader)) }
        guard reader.remaining == 0 else {
            throw InferenceError(
                .invalidRequest, "\(reader.remaining) bytes of binary data follow the JSON header but no input claims them")
        }
        if let outputs = json["outputs"] {
            guard let items = outputs.elements else { throw InferenceError(.invalidRequest, "'outputs' must be an array") }
            request.outputs = []
            for item in items {
                guard case .string(let name)? = item["name"] else {
                    throw InferenceError(.invalidRequest, "every requested output needs a 'name' string")
                }
                var binaryChoice: Bool?
                if let parameters = item["parameters"] {
                    guard case .object = parameters else {
                        throw InferenceError(.invalidRequest, "output '\(name)': 'parameters' must be an object")
                    }
                    binaryChoice = try bool(parameters["binary_data"], "output '\(name)' parameters.binary_data")
                }
                request.outputs!.append(RequestedOutput(name: name, binary: binaryChoice))
            }
        }
        return request
    }

    private static func bool(_ value: JSONValue?, _ what: String) throws(InferenceError) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw InferenceError(.invalidRequest, "\(what) must be true or false, got \(other.kind)")
        }
    }

    private static func decodeInput(_ json: JSONValue, binary: inout BinaryReader) throws(InferenceError) -> InferenceTensor {
        guard case .object = json else { throw InferenceError(.invalidRequest, "every input must be a JSON object") }
        guard case .string(let name)? = json["name"] else {
            throw InferenceError(.invalidRequest, "every input needs a 'name' string")
        }
        guard case .string(let typeName)? = json["datatype"] else {
            throw InferenceError(.invalidRequest, "input '\(name)' needs a 'datatype' string")
        }
        guard let datatype = DataType(rawValue: typeName) else {
            throw InferenceError(
                .invalidRequest,
                "input '\(name)' has unknown datatype '\(typeName)'; use one of \(DataType.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard let dims = json["shape"]?.elements else {
            throw InferenceError(.invalidRequest, "input '\(name)' needs a 'shape' array")
        }
        var shape: [Int] = []
        for dim in dims {
            guard case .number(let d) = dim, d >= 0, d == d.rounded(), d < 9e15 else {
                throw InferenceError(.invalidRequest, "input '\(name)' has an invalid shape: dimensions are whole numbers >= 0")
            }
            shape.append(Int(d))
        }
        guard let count = InferenceTensor.elementCount(shape) else {
            throw InferenceError(.invalidRequest, "input '\(name)' has a shape \(shape) too large to hold")
        }
        var binarySize: Int?
        if let parameters = json["parameters"] {
            guard case .object = parameters else {
                throw InferenceError(.invalidRequest, "input '\(name)': 'parameters' must be an object")
            }
            switch parameters["binary_data_size"] {
            case nil: break
            case .number(let size)? where size >= 0 && size == size.rounded() && size < 9e15: binarySize = Int(size)
            case _?: throw InferenceError(.invalidRequest, "input '\(name)': binary_data_size must be a whole number >= 0")
            }
        }
        let values: InferenceTensor.Values
        if let binarySize {
            guard json["data"] == nil else {
                throw InferenceError(.invalidRequest, "input '\(name)' has both 'data' and binary_data_size")
            }
            guard let bytes = binary.take(binarySize) else {
                throw InferenceError(
                    .invalidRequest,
                    "input '\(name)' claims \(binarySize) bytes of binary data but only \(binary.remaining) remain (truncated body?)"
                )
            }
            values = try TensorBytes.decode(bytes, datatype: datatype, count: count, name: name)
        } else {
            guard let data = json["data"] else {
                throw InferenceError(.invalidRequest, "input '\(name)' needs 'data' or parameters.binary_data_size")
            }
            values = try JSONTensorData.decode(data, datatype: datatype, count: count, name: name)
        }
        return InferenceTensor(name: name, datatype: datatype, shape: shape, values: values)
    }
}

/// Consumes the binary section of a request, tensor by tensor.
struct BinaryReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count <= remaining else { return nil }
        defer { offset += count }
        return count == 0
            ? UnsafeRawBufferPointer(start: nil, count: 0) : UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }
}
