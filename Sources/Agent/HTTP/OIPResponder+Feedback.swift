import NIOCore

extension OIPResponder {
    /// `POST /v2/models/{name}[/versions/{v}]/feedback` with `{"id": "<prediction id>", "label": ...}`.
    func feedback(
        _ request: HTTPRequestMessage, name: String, version: String?,
        completion: @escaping @Sendable (HTTPResponseMessage) -> Void
    ) throws(InferenceError) {
        _ = try registry.model(name, version: version)
        let json: JSONValue
        do {
            json = try request.body.withUnsafeReadableBytes { (body) throws(JSONParseError) in try JSONValue.parse(body) }
        } catch {
            throw InferenceError(.invalidRequest, "the feedback is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .string(let id)? = json["id"], !id.isEmpty else {
            throw InferenceError(.invalidRequest, "feedback needs 'id': the id of the prediction (from the infer response)")
        }
        let label: String
        switch json["label"] {
        case .string(let text)?: label = text
        case .number(let d)? where d.isFinite: label = d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case nil: throw InferenceError(.invalidRequest, "feedback needs 'label': a class name or a number")
        case let other?: throw InferenceError(.invalidRequest, "'label' must be a string or a number, got \(other.kind)")
        }
        guard !label.isEmpty, label.utf8.count <= 256,
            !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw InferenceError(.invalidRequest, "'label' must have 1 to 256 bytes and no control characters")
        }
        guard let log else {
            throw InferenceError(.unavailable, "this agent keeps no prediction log, so feedback cannot be attached")
        }
        let time = RequestIdentity.nowMilliseconds()
        let metrics = metrics
        Task {
            let response: HTTPResponseMessage
            do {
                let result = try await log.attachFeedback(predictionID: id, label: label, time: time)
                metrics.recordFeedback(result.rawValue)
                switch result {
                case .attached:
                    var json = JSONWriter()
                    json.raw("{")
                    json.key("id")
                    json.string(id)
                    json.raw(#","result":"attached"}"#)
                    response = .json(200, json.bytes)
                case .unknownPrediction:
                    response = .error(InferenceError(.notFound, "no logged prediction has id '\(id)'"))
                case .alreadyLabelled:
                    response = .error(InferenceError(.conflict, "prediction '\(id)' already has a label; the first one stays"))
                }
            } catch let error as InferenceError {
                metrics.recordFeedback("error")
                response = .error(error)
            } catch {
                metrics.recordFeedback("error")
                response = .error(InferenceError(.internal, "storing the feedback failed: \(error)"))
            }
            completion(response)
        }
    }
}
