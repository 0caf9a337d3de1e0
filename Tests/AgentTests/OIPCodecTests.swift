import Testing

@testable import Agent

@Suite("OIP codec")
struct OIPCodecTests {
    private func decode(_ json: String, binary: [UInt8] = [], headerLength: Int? = nil) throws(InferenceError) -> InferenceRequest
    {
        let body = Array(json.utf8) + binary
        let length = headerLength ?? (binary.isEmpty ? nil : json.utf8.count)
        let result = body.withUnsafeBytes { raw in
            Result { () throws(InferenceError) in try InferenceRequest.decode(body: raw, headerLength: length) }
        }
        return try result.get()
    }

    private func refusal(_ json: String, binary: [UInt8] = [], headerLength: Int? = nil) -> String {
        do {
            _ = try decode(json, binary: binary, headerLength: headerLength)
            return "accepted"
        } catch {
            return error.code == .invalidRequest ? error.message : "wrong code \(error.code)"
        }
    }

    private static func le<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    @Test("the JSON parser reads every kind of value, escapes and numbers, and refuses what is not JSON")
    func jsonParser() throws {
        let value = try JSONValue.parse(
            Array(#" {"a": [1, -2.5e3, 0.125, true, false, null], "s": "q\"\\\/\n\u00e9\ud83d\ude00", "o": {}} "#.utf8))
        #expect(value["a"] == .array([.number(1), .number(-2500), .number(0.125), .bool(true), .bool(false), .null]))
        #expect(value["s"] == .string("q\"\\/\né😀"))
        #expect(value["o"] == .object([]))
        for bad in [
            "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\u{01}\"", "{\"a\":1,\"a\":2}", "[1] x", "tru", "\"\\ud800\"",
            "NaN",
        ] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONValue.parse(Array(bad.utf8)) }
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
    }

    @Test("JSON numbers read exactly as Swift's own correctly rounded parser reads them, on the fast path and off it")
    func jsonNumbers() throws {
        let texts = [
            "0", "-0", "7", "-12", "0.1", "0.30000000000000004", "123456789012345", "1234567890123456789", "12345678901234567890123",
            "1e22", "1e23", "2.5e-22", "4.9e-324", "1.7976931348623157e308", "3.4028235e38", "0.000001234", "9007199254740993",
            "1.00000000000000000001", "1E5", "-2.5e+3", "8.589973e9",
        ]
        let json = "[" + texts.joined(separator: ",") + "]"
        let parsed = try JSONValue.parse(Array(json.utf8))
        #expect(parsed == .numbers(texts.map { Double($0)! }))
        for (text, value) in zip(texts, parsed.elements ?? []) {
            #expect(value == .number(Double(text)!), "\(text)")
        }
    }

    @Test("JSON tensors: nested and flat data are the same row-major elements; id and outputs are read")
    func jsonRequest() throws {
        let nested = try decode(
            #"{"id":"r1","inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[[1,2,3],[4,5,6.5]]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}"#
        )
        let flat = try decode(
            #"{"inputs":[{"name":"x","shape":[2,3],"datatype":"FP32","data":[1,2,3,4,5,6.5]}],"parameters":{"binary_data_output":true}}"#
        )
        #expect(nested.inputs == flat.inputs)
        #expect(nested.inputs[0].values == .numbers([1, 2, 3, 4, 5, 6.5]))
        #expect(nested.id == "r1")
        #expect(nested.outputs?.map(\.name) == ["y"])
        #expect(nested.outputs?.first?.binary == true)
        #expect(!nested.binaryOutput)
        #expect(flat.binaryOutput)
        #expect(flat.outputs == nil)
        let typed = try decode(
            #"{"inputs":[{"name":"u","shape":[3],"datatype":"UINT8","data":[0,7,255]},{"name":"b","shape":[2],"datatype":"BOOL","data":[true,false]},{"name":"s","shape":[2],"datatype":"BYTES","data":["hi",""]}]}"#
        )
        #expect(typed.inputs[0].values == .numbers([0, 7, 255]))
        #expect(typed.inputs[1].values == .numbers([1, 0]))
        #expect(typed.inputs[2].values == .bytes([Array("hi".utf8), []]))
    }

    @Test(
        "malformed JSON requests are refused with a message",
        arguments: [
            (#"{"inputs":[]}"#, "non-empty"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,2,3]}]}"#, "more data elements"),
            (#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#, "has 2 data elements"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FLOAT","data":[1,2]}]}"#, "unknown datatype"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,"2"]}]}"#, "not a number"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"INT8","data":[1,200]}]}"#, "not a valid INT8"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"INT32","data":[1,2.5]}]}"#, "not a valid INT32"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","data":[1,2]}]}"#, "not a string"),
            (#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#, "invalid shape"),
            (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32"}]}"#, "needs 'data'"),
            (#"{"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]}"#, "'name'"),
            (#"{"id":5,"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#, "'id' must be a string"),
            (#"{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}"#, "too large"),
            (#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]}"#, "'name'"),
            (#"[1,2]"#, "JSON object"),
            (#"{"inputs":"#, "not valid JSON"),
        ])
    func malformedJSON(json: String, message: String) {
        let refusal = refusal(json)
        #expect(refusal.contains(message), "\(refusal)")
    }

    @Test("binary tensors of every datatype decode from little-endian bytes after the JSON header")
    func binaryRequest() throws {
        let cases: [(DataType, [UInt8], [Float])] = [
            (.fp32, Self.le([Float(1.5).bitPattern, Float(-2).bitPattern]), [1.5, -2]),
            (.fp64, Self.le([Double(0.25).bitPattern, Double(-8).bitPattern]), [0.25, -8]),
            (.fp16, Self.le([UInt16(0x3C00), 0xC100]), [1, -2.5]),
            (.bf16, Self.le([UInt16(0x3F80), 0xC040]), [1, -3]),
            (.uint8, [0, 255], [0, 255]),
            (.int8, [0x80, 0x7F], [-128, 127]),
            (.uint16, Self.le([UInt16(65535), 1]), [65535, 1]),
            (.int16, Self.le([Int16(-300), 300]), [-300, 300]),
            (.uint32, Self.le([UInt32(70000), 2]), [70000, 2]),
            (.int32, Self.le([Int32(-70000), 3]), [-70000, 3]),
            (.uint64, Self.le([UInt64(1) << 40, 4]), [Float(UInt64(1) << 40), 4]),
            (.int64, Self.le([Int64(-5), 6]), [-5, 6]),
            (.bool, [1, 0], [1, 0]),
        ]
        for (datatype, bytes, expected) in cases {
            let json =
                #"{"inputs":[{"name":"x","shape":[2],"datatype":"\#(datatype.rawValue)","parameters":{"binary_data_size":\#(bytes.count)}}]}"#
            let request = try decode(json, binary: bytes)
            #expect(request.inputs[0].values == .numbers(expected), "\(datatype)")
        }
        let strings: [UInt8] = Self.le([UInt32(2)]) + Array("hi".utf8) + Self.le([UInt32(0)])
        let request = try decode(
            #"{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":10}}]}"#, binary: strings)
        #expect(request.inputs[0].values == .bytes([Array("hi".utf8), []]))
        let mixed = try decode(
            #"{"inputs":[{"name":"a","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}},{"name":"j","shape":[1],"datatype":"FP32","data":[9]},{"name":"b","shape":[1],"datatype":"INT8","parameters":{"binary_data_size":1}}]}"#,
            binary: [7, 0xFF])
        #expect(mixed.inputs.map(\.values) == [.numbers([7]), .numbers([9]), .numbers([-1])])
    }

    @Test("truncated, surplus and mis-sized binary data and lying header lengths are refused")
    func malformedBinary() {
        let header = #"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#
        #expect(refusal(header, binary: [0, 0, 0, 0]).contains("truncated"))
        #expect(refusal(header, binary: Array(repeating: 0, count: 12)).contains("no input claims"))
        let wrongSize = #"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":6}}]}"#
        #expect(refusal(wrongSize, binary: Array(repeating: 0, count: 6)).contains("take 8"))
        #expect(
            refusal(header, binary: Array(repeating: 0, count: 8), headerLength: 1 << 40).contains(
                "Inference-Header-Content-Length"))
        #expect(refusal(header, binary: Array(repeating: 0, count: 8), headerLength: 10).contains("not valid JSON"))
        let strings = #"{"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}"#
        #expect(refusal(strings, binary: Self.le([UInt32(100)]) + [1, 2, 3, 4]).contains("claims 100 bytes"))
        let bools = #"{"inputs":[{"name":"b","shape":[1],"datatype":"BOOL","parameters":{"binary_data_size":1}}]}"#
        #expect(refusal(bools, binary: [2]).contains("not 0 or 1"))
    }

    @Test("responses: JSON data, or a JSON header plus little-endian binary outputs with their sizes (golden bytes)")
    func responseEncoding() {
        let probabilities = InferenceTensor(name: "p", datatype: .fp32, shape: [1, 2], values: .numbers([0.25, 0.75]))
        let label = InferenceTensor(name: "label", datatype: .bytes, shape: [1], values: .bytes([Array("7".utf8)]))
        let json = InferenceResponse.encode(
            model: "m", version: "1", id: "r",
            outputs: [.init(tensor: probabilities, binary: false), .init(tensor: label, binary: false)])
        #expect(json.headerLength == nil)
        #expect(
            String(decoding: json.body, as: UTF8.self)
                == #"{"model_name":"m","model_version":"1","id":"r","outputs":[{"name":"p","datatype":"FP32","shape":[1,2],"data":[0.25,0.75]},{"name":"label","datatype":"BYTES","shape":[1],"data":["7"]}]}"#
        )
        let binary = InferenceResponse.encode(
            model: "m", version: "1", id: "r",
            outputs: [.init(tensor: probabilities, binary: true), .init(tensor: label, binary: true)])
        let expectedHeader =
            #"{"model_name":"m","model_version":"1","id":"r","outputs":[{"name":"p","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},{"name":"label","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":5}}]}"#
        #expect(binary.headerLength == expectedHeader.utf8.count)
        #expect(binary.body == Array(expectedHeader.utf8) + [0, 0, 0x80, 0x3E, 0, 0, 0x40, 0x3F] + [1, 0, 0, 0, 0x37])
    }

    @Test("requested outputs pick names and per-output binary, falling back to binary_data_output")
    func outputSelection() throws {
        let outputs = [
            InferenceTensor(name: "p", datatype: .fp32, shape: [1, 1], values: .numbers([1])),
            InferenceTensor(name: "label", datatype: .bytes, shape: [1], values: .bytes([[0x31]])),
        ]
        let request = try decode(
            #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"parameters":{"binary_data_output":true},"outputs":[{"name":"label","parameters":{"binary_data":false}},{"name":"p"}]}"#
        )
        let selected = InferenceResponse.select(outputs, for: request)
        #expect(selected.map(\.tensor.name) == ["label", "p"])
        #expect(selected.map(\.binary) == [false, true])
    }

    @Test("routes: every OIP path, versions, percent escapes; wrong methods and unknown paths")
    func routes() throws {
        #expect(try OIPRoute.match(method: "GET", target: "/v2/health/live").get() == .live)
        #expect(try OIPRoute.match(method: "GET", target: "/v2/health/ready").get() == .ready)
        #expect(try OIPRoute.match(method: "GET", target: "/v2").get() == .serverMetadata)
        #expect(try OIPRoute.match(method: "GET", target: "/v2/").get() == .serverMetadata)
        #expect(try OIPRoute.match(method: "GET", target: "/metrics").get() == .metrics)
        #expect(
            try OIPRoute.match(method: "GET", target: "/v2/models/digits").get() == .modelMetadata(name: "digits", version: nil))
        #expect(
            try OIPRoute.match(method: "GET", target: "/v2/models/digits/versions/2").get()
                == .modelMetadata(name: "digits", version: "2"))
        #expect(
            try OIPRoute.match(method: "GET", target: "/v2/models/digits/versions/2/ready").get()
                == .modelReady(name: "digits", version: "2"))
        #expect(
            try OIPRoute.match(method: "POST", target: "/v2/models/my%20model/infer?x=1").get()
                == .infer(name: "my model", version: nil))
        #expect(
            try OIPRoute.match(method: "POST", target: "/v2/models/d/versions/1/feedback").get()
                == .feedback(name: "d", version: "1"))
        #expect(OIPRoute.match(method: "GET", target: "/v2/models/digits/infer") == .failure(.methodNotAllowed(allowed: "POST")))
        #expect(OIPRoute.match(method: "POST", target: "/v2/health/live") == .failure(.methodNotAllowed(allowed: "GET")))
        for path in ["/", "/v1/models/x", "/v2/models", "/v2/models/d/explain", "/v2/models/d/versions", "/v2/models/%zz/infer"] {
            #expect(OIPRoute.match(method: "GET", target: path) == .failure(.notFound), "\(path)")
        }
    }
}
