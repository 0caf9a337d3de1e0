import Core

extension Onnx_NodeProto {
    /// A name for messages: the node name, or its op type and first output when unnamed.
    var label: String {
        if !name.isEmpty { return name }
        return "\(opType) writing '\(output.first ?? "")'"
    }

    /// The op type with its domain when it is not the default one (e.g. "ai.onnx.ml.ArrayFeatureExtractor").
    var qualifiedOpType: String {
        domain.isEmpty || domain == "ai.onnx" ? opType : "\(domain).\(opType)"
    }

    private func attribute(_ key: String) -> Onnx_AttributeProto? {
        attribute.first { $0.name == key }
    }

    /// An integer attribute, or nil when absent.
    func int(_ key: String) -> Int? {
        guard let a = attribute(key) else { return nil }
        return Int(clamping: a.i)
    }

    /// A float attribute, or nil when absent.
    func float(_ key: String) -> Float? {
        attribute(key)?.f
    }

    /// An integer list attribute, or nil when absent.
    func ints(_ key: String) -> [Int]? {
        attribute(key)?.ints.map { Int(clamping: $0) }
    }

    /// A string attribute, or nil when absent.
    func string(_ key: String) -> String? {
        guard let a = attribute(key) else { return nil }
        return String(decoding: a.s, as: UTF8.self)
    }

    /// A tensor attribute, or nil when absent.
    func tensor(_ key: String) -> Onnx_TensorProto? {
        guard let a = attribute(key), a.hasT else { return nil }
        return a.t
    }

    /// Input `i`, or nil when it is absent or left empty (an omitted optional input).
    func input(_ i: Int) -> String? {
        i < input.count && !input[i].isEmpty ? input[i] : nil
    }

    /// An error for this node with `code`, naming the node and its op.
    func error(_ code: ModelError.Code, _ why: String) -> ModelError {
        ModelError(code, "ONNX node '\(label)' (\(qualifiedOpType)): \(why)")
    }

    /// An `unsupportedOp` error for this node.
    func error(_ why: String) -> ModelError {
        error(.unsupportedOp, why)
    }
}

extension Onnx_ValueInfoProto {
    /// The ONNX element type, or nil when this is not a tensor.
    var elementType: Int32? {
        guard case .tensorType(let t)? = type.value else { return nil }
        return t.elemType
    }

    /// Dimensions (nil for symbolic or missing ones), or nil when the shape is unknown.
    var dimensions: [Int?]? {
        guard case .tensorType(let t)? = type.value, t.hasShape else { return nil }
        return t.shape.dim.map { d in
            if case .dimValue(let v)? = d.value, v >= 0 { return Int(clamping: v) }
            return nil
        }
    }
}
