import NIOCore

extension OIPResponder {
    /// `POST /v2/models/{name}[/versions/{v}]/infer`.
    func infer(
        _ request: HTTPRequestMessage, name: String, version: String?,
        completion: @escaping @Sendable (HTTPResponseMessage) -> Void
    ) throws(InferenceError) {
        if let encoding = request.contentEncoding, encoding.lowercased() != "identity" {
            throw InferenceError(.invalidRequest, "Content-Encoding '\(encoding)' is not supported; send the body uncompressed")
        }
        var headerLength: Int?
        if let text = request.inferenceHeaderLength {
            guard let value = Int(text.trimmingSpaces), value >= 0 else {
                throw InferenceError(
                    .invalidRequest, "Inference-Header-Content-Length must be a whole number of bytes, got '\(text)'")
            }
            headerLength = value
        }
        let decoded = try request.body.withUnsafeReadableBytes { (body) throws(InferenceError) in
            try InferenceRequest.decode(body: body, headerLength: headerLength)
        }
        let served = try registry.model(name, version: version)
        do {
            try InferenceResponse.check(decoded, against: served.signature)
        } catch {
            telemetry?.recordFailure()
            throw error
        }
        let id = decoded.id ?? identity.next()
        let started = RequestIdentity.nowMilliseconds()
        let clock = ContinuousClock()
        let start = clock.now
        served.infer(decoded.inputs) { [self] result in
            switch result {
            case .failure(let error):
                telemetry?.recordFailure()
                health?.recordFailure(model: served.name, version: served.version)
                completion(.error(error))
            case .success(let output):
                let latency = start.duration(to: clock.now)
                telemetry?.recordSuccess(latency: latency)
                health?.recordSuccess(
                    model: served.name, version: served.version,
                    latencyMicroseconds: latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
                // Logged before answering, so feedback sent right after the answer finds it.
                if let log {
                    let elapsed = start.duration(to: clock.now).components
                    let record = PredictionRecord(
                        requestID: id, time: started, modelName: served.name, modelVersion: output.version,
                        inputs: InferenceResponse.logJSON(decoded.inputs), outputs: InferenceResponse.logJSON(output.outputs),
                        latencyMicroseconds: elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000)
                    if !log.record(record) { metrics.predictionsDropped.increment() }
                }
                let selected = InferenceResponse.select(output.outputs, for: decoded)
                let (body, jsonLength) = InferenceResponse.encode(
                    model: served.name, version: output.version, id: id, outputs: selected)
                if let jsonLength {
                    completion(
                        HTTPResponseMessage(
                            status: 200,
                            headers: [
                                ("Content-Type", "application/octet-stream"),
                                ("Inference-Header-Content-Length", String(jsonLength)),
                            ],
                            body: body))
                } else {
                    completion(.json(200, body))
                }
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        let isSpace = { (c: Character) in c == " " || c == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        return self[start...lastIndex(where: { !isSpace($0) })!]
    }
}
