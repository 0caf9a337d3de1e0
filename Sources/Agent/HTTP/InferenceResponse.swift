/// Encodes the response of `POST .../infer`: JSON, or a JSON header followed by binary tensor
/// data when any output is sent in binary.
enum InferenceResponse {
    /// An output to send and whether it goes in binary.
    struct Selected {
        var tensor: InferenceTensor
        var binary: Bool
    }

    /// The outputs `request` asks for, from `outputs` (every output of the signature).
    /// An unknown name is a client error; it is checked before the model runs (`check`).
    static func select(_ outputs: [InferenceTensor], for request: InferenceRequest) -> [Selected] {
        guard let requested = request.outputs else { return outputs.map { Selected(tensor: $0, binary: request.binaryOutput) } }
        return requested.compactMap { want in
            outputs.first { $0.name == want.name }.map { Selected(tensor: $0, binary: want.binary ?? request.binaryOutput) }
        }
    }

    /// Throws when `request` names an output the model does not have.
    static func check(_ request: InferenceRequest, against signature: ModelSignature) throws(InferenceError) {
        for want in request.outputs ?? [] where !signature.outputs.contains(where: { $0.name == want.name }) {
            throw InferenceError(
                .invalidRequest,
                "unknown output '\(want.name)'; the model has \(signature.outputs.map { "'\($0.name)'" }.joined(separator: ", "))"
            )
        }
    }

    /// The body, and the JSON header's length when binary data follows it.
    static func encode(model: String, version: String, id: String, outputs: [Selected]) -> (body: [UInt8], headerLength: Int?) {
        var json = JSONWriter(capacity: 128 + outputs.reduce(0) { $0 + $1.tensor.values.count * 12 })
        json.raw("{")
        json.key("model_name")
        json.string(model)
        json.comma()
        json.key("model_version")
        json.string(version)
        json.comma()
        json.key("id")
        json.string(id)
        json.comma()
        json.key("outputs")
        json.raw("[")
        var anyBinary = false
        for (i, output) in outputs.enumerated() {
            if i > 0 { json.comma() }
            tensorHeader(output.tensor, into: &json)
            if output.binary {
                anyBinary = true
                json.key("parameters")
                json.raw("{")
                json.key("binary_data_size")
                json.int(TensorBytes.size(of: output.tensor.values))
                json.raw("}}")
            } else {
                json.key("data")
                data(output.tensor.values, into: &json)
                json.raw("}")
            }
        }
        json.raw("]}")
        guard anyBinary else { return (json.bytes, nil) }
        let headerLength = json.bytes.count
        var body = json.bytes
        for output in outputs where output.binary { TensorBytes.append(output.tensor.values, to: &body) }
        return (body, headerLength)
    }

    /// `{"name":..,"datatype":..,"shape":[..],` (the caller closes the object).
    static func tensorHeader(_ tensor: InferenceTensor, into json: inout JSONWriter) {
        json.raw("{")
        tensorFields(name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, into: &json)
        json.comma()
    }

    /// `"name":..,"datatype":..,"shape":[..]`, as tensors appear in responses and metadata.
    static func tensorFields(name: String, datatype: DataType, shape: [Int], into json: inout JSONWriter) {
        json.key("name")
        json.string(name)
        json.comma()
        json.key("datatype")
        json.string(datatype.rawValue)
        json.comma()
        json.key("shape")
        json.ints(shape)
    }

    /// A flat JSON array of the elements.
    static func data(_ values: InferenceTensor.Values, into json: inout JSONWriter) {
        json.raw("[")
        switch values {
        case .numbers(let floats):
            for (i, value) in floats.enumerated() {
                if i > 0 { json.comma() }
                json.float(value)
            }
        case .bytes(let strings):
            for (i, value) in strings.enumerated() {
                if i > 0 { json.comma() }
                json.string(bytes: value)
            }
        }
        json.raw("]")
    }

    /// A list of tensors as JSON (`[{"name":..,"datatype":..,"shape":..,"data":..}]`), for the prediction log.
    static func logJSON(_ tensors: [InferenceTensor]) -> String {
        var json = JSONWriter(capacity: 64 + tensors.reduce(0) { $0 + $1.values.count * 8 })
        json.raw("[")
        for (i, tensor) in tensors.enumerated() {
            if i > 0 { json.comma() }
            tensorHeader(tensor, into: &json)
            json.key("data")
            data(tensor.values, into: &json)
            json.raw("}")
        }
        json.raw("]")
        return String(decoding: json.bytes, as: UTF8.self)
    }
}
