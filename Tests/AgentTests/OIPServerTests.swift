import Core
import Foundation
import Testing

@testable import Agent

@Suite("OIP server")
struct OIPServerTests {
    static let pixels = OIPFixtures.pixels(rows: 3, from: 10)
    static let expected = OIPFixtures.corePrediction(OIPFixtures.digitsModel, pixels: pixels)

    @Test("health, server metadata, model metadata and model readiness answer as the protocol says")
    func metadataRoutes() async throws {
        try await withOIPServer { _, port in
            try await offPool {
                let client = try OIPHTTPClient(port: port)
                let live = try client.request("GET", "/v2/health/live")
                #expect(live.status == 200)
                #expect(live.json?["live"] as? Bool == true)
                #expect(try client.request("GET", "/v2/health/ready").status == 200)
                let server = try client.request("GET", "/v2")
                #expect(server.json?["name"] as? String == "starling-agent")
                #expect(server.json?["version"] as? String == AgentVersion.current)
                #expect((server.json?["extensions"] as? [String])?.contains("binary_tensor_data") == true)
                let model = try client.request("GET", "/v2/models/digits")
                #expect(model.status == 200)
                #expect(model.json?["name"] as? String == "digits")
                #expect(model.json?["versions"] as? [String] == ["1"])
                #expect(model.json?["platform"] as? String == "starling_int8")
                let inputs = model.json?["inputs"] as? [[String: Any]]
                #expect(inputs?.first?["name"] as? String == "input")
                #expect(inputs?.first?["datatype"] as? String == "FP32")
                #expect(inputs?.first?["shape"] as? [Int] == [-1, 64])
                let outputs = (model.json?["outputs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(outputs == ["probabilities", "label"])
                let ready = try client.request("GET", "/v2/models/digits/versions/1/ready")
                #expect(ready.status == 200)
                #expect(ready.json?["ready"] as? Bool == true)
                let missing = try client.request("GET", "/v2/models/nope/ready")
                #expect(missing.status == 404)
                #expect(missing.error?.contains("nope") == true)
            }
        }
    }

    @Test("JSON and binary inference agree with Core's own int8 prediction; the request id is echoed")
    func inferAgreesWithCore() async throws {
        try await withOIPServer { _, port in
            try await offPool {
                let client = try OIPHTTPClient(port: port)
                let json = try client.request(
                    "POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels, id: "req-1"))
                #expect(json.status == 200, "\(json.text)")
                #expect(json.json?["id"] as? String == "req-1")
                #expect(json.json?["model_name"] as? String == "digits")
                #expect(json.json?["model_version"] as? String == "1")
                #expect(json.floats("probabilities") == Self.expected.scalars)
                let labels = ((json.json?["outputs"] as? [[String: Any]])?.last?["data"] as? [String])
                let classes = OIPFixtures.digitsModel.metadata.classes!
                #expect(labels == Self.expected.argmaxRows().map { classes[$0] })

                let (body, headerLength) = OIPBodies.binary(pixels: Self.pixels)
                let binary = try client.request(
                    "POST", "/v2/models/digits/versions/1/infer", body: body,
                    headers: [
                        ("Inference-Header-Content-Length", String(headerLength)), ("Content-Type", "application/octet-stream"),
                    ])
                #expect(binary.status == 200)
                let parts = try #require(binary.binaryOutputs())
                #expect(parts.blobs["probabilities"]?.littleEndianFloats == Self.expected.scalars)
                let label = try #require(parts.blobs["label"])
                #expect(Array(label[0..<4]) == [1, 0, 0, 0], "a one-character class name has length 1")
                #expect(parts.header["id"] as? String != nil, "an id is generated when the request gives none")

                // Binary input, JSON output of one chosen output.
                let (mixedBody, mixedLength) = OIPBodies.binary(pixels: Self.pixels, outputsBinary: false)
                var withOutputs = String(decoding: mixedBody[0..<mixedLength], as: UTF8.self)
                withOutputs.removeLast()
                withOutputs += #","outputs":[{"name":"probabilities"}]}"#
                let selected = try client.request(
                    "POST", "/v2/models/digits/infer", body: Array(withOutputs.utf8) + mixedBody[mixedLength...],
                    headers: [("Inference-Header-Content-Length", String(withOutputs.utf8.count))])
                #expect(selected.status == 200, "\(selected.text)")
                #expect(selected.headers["inference-header-content-length"] == nil)
                #expect(selected.floats("probabilities") == Self.expected.scalars)
                #expect((selected.json?["outputs"] as? [Any])?.count == 1)
            }
        }
    }

    /// A request that must be refused, and how.
    struct BadRequest: Sendable, CustomTestStringConvertible {
        var what: String
        var method = "POST"
        var path = "/v2/models/digits/infer"
        var body: [UInt8]
        var headers: [(String, String)] = []
        var status: Int
        var message: String

        var testDescription: String { what }
    }

    static let badRequests: [BadRequest] = {
        let good = OIPBodies.json(pixels: OIPFixtures.pixels(rows: 1))
        let (binary, headerLength) = OIPBodies.binary(pixels: OIPFixtures.pixels(rows: 2))
        let binaryHeaders = [("Inference-Header-Content-Length", String(headerLength))]
        return [
            BadRequest(
                what: "wrong shape", body: Array(good.replacingOccurrences(of: "[1,64]", with: "[2,32]").utf8), status: 400,
                message: "the model takes"),
            BadRequest(
                what: "wrong datatype", body: Array(good.replacingOccurrences(of: "FP32", with: "BYTES").utf8), status: 400,
                message: "not a string"),
            BadRequest(
                what: "datatype the model cannot take",
                body: Array(
                    #"{"inputs":[{"name":"input","shape":[1,64],"datatype":"BOOL","data":[\#(Array(repeating: "true", count: 64).joined(separator: ","))]}]}"#
                        .utf8),
                status: 400, message: "number type"),
            BadRequest(
                what: "truncated binary body", body: Array(binary.dropLast(100)), headers: binaryHeaders, status: 400,
                message: "truncated"),
            BadRequest(
                what: "huge Inference-Header-Content-Length", body: binary,
                headers: [("Inference-Header-Content-Length", "99999999999")], status: 400,
                message: "Inference-Header-Content-Length"),
            BadRequest(
                what: "non-numeric Inference-Header-Content-Length", body: binary,
                headers: [("Inference-Header-Content-Length", "ten")], status: 400,
                message: "whole number"),
            BadRequest(
                what: "bad JSON", body: Array(#"{"inputs": [ {"name": "input", "#.utf8), status: 400, message: "not valid JSON"),
            BadRequest(
                what: "unknown model", path: "/v2/models/nope/infer", body: Array(good.utf8), status: 404,
                message: "no model named 'nope'"),
            BadRequest(
                what: "unknown version", path: "/v2/models/digits/versions/3/infer", body: Array(good.utf8), status: 404,
                message: "no version 3"),
            BadRequest(
                what: "unknown output",
                body: Array(good.replacingOccurrences(of: "]}]}", with: #"]}],"outputs":[{"name":"logits"}]}"#).utf8),
                status: 400,
                message: "unknown output 'logits'"),
            BadRequest(
                what: "compressed body", body: Array(good.utf8), headers: [("Content-Encoding", "gzip")], status: 400,
                message: "gzip"),
            BadRequest(what: "wrong method", method: "GET", body: [], status: 405, message: "use POST"),
            BadRequest(what: "unknown route", path: "/v2/models/digits/explain", body: [], status: 404, message: "no route"),
        ]
    }()

    @Test("malformed requests get the right status and an error message, and the server keeps serving", arguments: badRequests)
    func malformedRequests(bad: BadRequest) async throws {
        try await withOIPServer { _, port in
            try await offPool {
                let client = try OIPHTTPClient(port: port)
                let response = try client.request(bad.method, bad.path, body: bad.body, headers: bad.headers)
                #expect(response.status == bad.status, "\(response.text)")
                #expect(response.error?.contains(bad.message) == true, "\(response.text)")
                if bad.status == 405 { #expect(response.headers["allow"] == "POST") }
                // Same connection, then a good inference: still serving.
                #expect(try client.request("GET", "/v2/health/live").status == 200)
                let good = try client.request("POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels))
                #expect(good.floats("probabilities") == Self.expected.scalars)
            }
        }
    }

    @Test("a body over the limit gets 413 and the connection closes; new connections are served")
    func bodyTooLarge() async throws {
        try await withOIPServer(configuration: InferenceServiceConfiguration(maxBodyBytes: 4096)) { _, port in
            try await offPool {
                let big = OIPBodies.json(pixels: OIPFixtures.pixels(rows: 40))
                let client = try OIPHTTPClient(port: port)
                let refused = try client.request("POST", "/v2/models/digits/infer", json: big)
                #expect(refused.status == 413)
                #expect(refused.error?.contains("over the limit of 4096 bytes") == true)
                #expect(client.isClosedByServer())
                // Chunked, without a Content-Length: refused while reading.
                let chunked = try OIPHTTPClient(port: port)
                let chunk = Array(big.utf8)
                try chunked.send(
                    Array(
                        "POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(String(chunk.count, radix: 16))\r\n"
                            .utf8) + chunk
                        + Array("\r\n0\r\n\r\n".utf8))
                #expect(try chunked.readResponse().status == 413)
                let fresh = try OIPHTTPClient(port: port)
                #expect(
                    try fresh.request("POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels)).status == 200)
                let expect = try fresh.request(
                    "POST", "/v2/models/digits/infer", body: Array(OIPBodies.json(pixels: Self.pixels).utf8),
                    headers: [("Expect", "100-continue")])
                #expect(expect.status == 200)
            }
        }
    }

    @Test("feedback attaches a label to a logged prediction; unknown ids, second labels and bad bodies are refused")
    func feedback() async throws {
        let log = InMemoryPredictionLog()
        try await withOIPServer(log: log) { _, port in
            try await offPool {
                let client = try OIPHTTPClient(port: port)
                let answer = try client.request(
                    "POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels, id: "p-1"))
                #expect(answer.status == 200)
                let anonymous = try client.request("POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels))
                let generated = try #require(anonymous.json?["id"] as? String)
                let records = log.predictions
                #expect(records.map(\.requestID) == ["p-1", generated])
                #expect(records.first?.modelName == "digits")
                #expect(records.first?.modelVersion == "1")
                #expect(records.first?.inputs.contains(#""name":"input","datatype":"FP32","shape":[3,64]"#) == true)
                #expect(records.first?.outputs.contains(#""name":"probabilities""#) == true)

                let attached = try client.request("POST", "/v2/models/digits/feedback", json: #"{"id":"p-1","label":7}"#)
                #expect(attached.status == 200, "\(attached.text)")
                #expect(attached.json?["result"] as? String == "attached")
                #expect(log.label(of: "p-1") == "7")
                #expect(
                    try client.request("POST", "/v2/models/digits/feedback", json: #"{"id":"p-1","label":"3"}"#).status == 409)
                #expect(
                    try client.request("POST", "/v2/models/digits/feedback", json: #"{"id":"\#(generated)","label":"three"}"#)
                        .status == 200)
                #expect(log.label(of: generated) == "three")
                let unknown = try client.request("POST", "/v2/models/digits/feedback", json: #"{"id":"nope","label":"1"}"#)
                #expect(unknown.status == 404)
                #expect(unknown.error?.contains("nope") == true)
                for bad in [#"{"label":"1"}"#, #"{"id":"p-1"}"#, #"{"id":"p-1","label":true}"#, #"{"id":"p-1","label":""}"#, "{"]
                {
                    let refused = try client.request("POST", "/v2/models/digits/feedback", json: bad)
                    #expect(refused.status == 400, "\(bad)")
                    #expect(refused.error != nil)
                }
                #expect(try client.request("POST", "/v2/models/other/feedback", json: #"{"id":"p-1","label":"1"}"#).status == 404)
            }
        }
    }

    @Test("without a prediction log the feedback route answers 503")
    func feedbackWithoutLog() async throws {
        try await withOIPServer { _, port in
            try await offPool {
                let response = try OIPHTTPClient(port: port).request(
                    "POST", "/v2/models/digits/feedback", json: #"{"id":"x","label":"1"}"#)
                #expect(response.status == 503)
                #expect(response.error?.contains("no prediction log") == true)
            }
        }
    }

    @Test("/metrics shows request counts by route and status, latency and batch histograms, and the active version")
    func metrics() async throws {
        try await withOIPServer { _, port in
            try await offPool {
                let client = try OIPHTTPClient(port: port)
                for _ in 0..<3 {
                    _ = try client.request("POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels))
                }
                _ = try client.request("POST", "/v2/models/nope/infer", json: OIPBodies.json(pixels: Self.pixels))
                let metrics = try client.request("GET", "/metrics")
                #expect(metrics.status == 200)
                #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
                let text = metrics.text
                #expect(text.contains(#"starling_agent_http_requests_total{route="infer",status="200"} 3"#), "\(text)")
                #expect(text.contains(#"starling_agent_http_requests_total{route="infer",status="404"} 1"#))
                #expect(text.contains(#"starling_agent_http_request_duration_seconds_count{route="infer"} 4"#))
                #expect(text.contains(#"starling_agent_inference_rows_total{model="digits",version="1"} 9"#))
                #expect(text.contains(#"starling_agent_inference_batch_rows_bucket{model="digits",version="1",le="4.0"} 3"#))
                #expect(text.contains(#"starling_agent_model_info{model="digits",version="1"} 1"#))
            }
        }
    }

    @Test("the Unix socket serves the same API, and its file is removed at shutdown")
    func unixSocket() async throws {
        let directory = try OIPFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/agent.sock"
        try await withOIPServer(configuration: InferenceServiceConfiguration(unixSocketPath: path)) { _, _ in
            try await offPool {
                let client = try OIPHTTPClient(unixPath: path)
                #expect(try client.request("GET", "/v2/health/live").status == 200)
                let answer = try client.request("POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: Self.pixels))
                #expect(answer.floats("probabilities") == Self.expected.scalars)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("after shutdown an open keep-alive connection is closed and gets no answer")
    func shutdown() async throws {
        let registry = ModelRegistry()
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        let service = InferenceService(configuration: InferenceServiceConfiguration(port: 0), registry: registry)
        let port = try await service.start()
        let client = try await offPool { try OIPHTTPClient(port: port) }
        #expect(try await offPool { try client.request("GET", "/v2/health/live").status } == 200)
        await service.shutdown()
        // A new connection to the same port number is not checked: tests run in parallel, and
        // another test's server may be given the freed port at once.
        #expect(throws: (any Error).self) { try client.request("GET", "/v2/health/live") }
    }
}
