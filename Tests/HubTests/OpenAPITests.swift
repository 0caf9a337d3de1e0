import Foundation
import Testing

@testable import Hub

/// `docs/openapi.yaml` documents exactly the routes the router is built from.
@Suite("OpenAPI")
struct OpenAPITests {
    /// The `METHOD /path` operations under `paths:` in the document (a line-based read of the
    /// two indentation levels that matter; the file keeps that layout).
    static func documentedOperations() throws -> Set<String> {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        var operations: Set<String> = []
        var inPaths = false
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if !line.hasPrefix(" ") && !line.isEmpty && !line.hasPrefix("#") {
                inPaths = line.hasPrefix("paths:")
                continue
            }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"), let path {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                if methods.contains(String(key)) { operations.insert("\(key.uppercased()) \(path)") }
            }
        }
        return operations
    }

    @Test func documentMatchesRouter() throws {
        let documented = try Self.documentedOperations()
        let served = Set(HubAPI.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(served.count == HubAPI.routes.count, "a route is listed twice")
        #expect(served.subtracting(documented).sorted() == [], "served but not in docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in docs/openapi.yaml but not served")
    }

    @Test func documentIsOpenAPI31() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3.1."))
    }
}
