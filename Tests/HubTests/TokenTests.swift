import Core
import Foundation
import GRDB
import Testing

@testable import Hub

@Suite("Tokens")
struct TokenTests {
    @Test("a token authenticates as its subject and role; the store keeps its SHA-256, never the secret")
    func createAndAuthenticate() async throws {
        try await withHub { hub in
            let issued = try await hub.tokens.create(subject: "ci-bot", role: .operator, by: HubFixture.admin)
            #expect(issued.secret.hasPrefix("stk_" + issued.record.id + "_"))
            #expect(issued.secret.count == 64)
            let principal = try await hub.tokens.authenticate(bearer: issued.secret)
            #expect(principal == Principal(subject: "ci-bot", role: .operator, tokenId: issued.record.id))

            let stored = try await hub.services.database.pool.read { db in
                try Data.fetchOne(db, sql: "SELECT secret_hash FROM tokens")!
            }
            #expect(PackageDigest.hex(stored) == PackageDigest.sha256(Array(issued.secret.utf8)))
            let secretPart = String(issued.secret.dropFirst(21))
            hub.services.close()
            let file = try Data(contentsOf: URL(fileURLWithPath: hub.services.database.path))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: hub.services.database.path + "-wal"))) ?? Data()
            for bytes in [file, wal] { #expect(bytes.range(of: Data(secretPart.utf8)) == nil) }
        }
    }

    @Test("a wrong secret, an unknown id, a malformed or empty token is refused with 401")
    func wrongTokens() async throws {
        try await withHub { hub in
            let issued = try await hub.tokens.create(subject: "ci-bot", role: .viewer, by: HubFixture.admin)
            var wrong = Array(issued.secret)
            wrong[wrong.count - 3] = wrong[wrong.count - 3] == "A" ? "B" : "A"
            let unknown = "stk_0123456789abcdef_" + String(issued.secret.dropFirst(21))
            let cases: [(String, AuthError.Code)] = [
                (String(wrong), .invalidToken), (unknown, .invalidToken), ("stk_short", .malformedToken),
                (issued.secret + "x", .malformedToken), ("", .missingToken),
            ]
            for (token, code) in cases {
                let error = await #expect(throws: AuthError.self) { try await hub.tokens.authenticate(bearer: token) }
                #expect(error?.code == code)
                #expect(error?.httpStatus == 401)
            }
        }
    }

    @Test("a revoked token and an expired token are refused")
    func revokedAndExpired() async throws {
        try await withHub { hub in
            let revoked = try await hub.tokens.create(subject: "old", role: .admin, by: HubFixture.admin)
            try await hub.tokens.revoke(id: revoked.record.id, by: HubFixture.admin)
            let error = await #expect(throws: AuthError.self) { try await hub.tokens.authenticate(bearer: revoked.secret) }
            #expect(error?.code == .revokedToken)
            let twice = await #expect(throws: HubStoreError.self) {
                try await hub.tokens.revoke(id: revoked.record.id, by: HubFixture.admin)
            }
            #expect(twice?.code == .conflict)

            let start = hub.clock.now()
            let shortLived = try await hub.tokens.create(
                subject: "temp", role: .viewer, expiresAt: start + 60_000, by: HubFixture.admin)
            #expect(try await hub.tokens.authenticate(bearer: shortLived.secret).subject == "temp")
            hub.clock.advance(byMilliseconds: 60_000)
            let expired = await #expect(throws: AuthError.self) {
                try await hub.tokens.authenticate(bearer: shortLived.secret)
            }
            #expect(expired?.code == .expiredToken)
        }
    }

    @Test("roles: only admins manage tokens; require() compares ranks")
    func roles() async throws {
        try await withHub { hub in
            for principal in [HubFixture.viewer, HubFixture.alice] {
                let error = await #expect(throws: AuthError.self) {
                    try await hub.tokens.create(subject: "x", role: .admin, by: principal)
                }
                #expect(error?.code == .forbidden)
                await #expect(throws: AuthError.self) { try await hub.tokens.list(by: principal) }
            }
            #expect(throws: Never.self) { try HubFixture.admin.require(.operator) }
            #expect(throws: Never.self) { try HubFixture.alice.require(.viewer) }
            #expect(throws: AuthError.self) { try HubFixture.viewer.require(.operator) }
            let bad = await #expect(throws: AuthError.self) {
                try await hub.tokens.create(subject: "has space", role: .viewer, by: HubFixture.admin)
            }
            #expect(bad?.code == .invalidRequest)
            let past = await #expect(throws: AuthError.self) {
                try await hub.tokens.create(subject: "late", role: .viewer, expiresAt: 1, by: HubFixture.admin)
            }
            #expect(past?.code == .invalidRequest)
        }
    }

    @Test("listing shows every token without secrets; the Authorization header is parsed")
    func listAndHeader() async throws {
        try await withHub { hub in
            var secrets: [String] = []
            for index in 0..<5 {
                secrets.append(try await hub.tokens.create(subject: "s\(index)", role: .viewer, by: HubFixture.admin).secret)
            }
            let (tokens, _) = try await PaginationTests.collect(limit: 2) {
                try await hub.tokens.list(page: $0, by: HubFixture.admin)
            }
            #expect(tokens.map(\.subject) == ["s0", "s1", "s2", "s3", "s4"])
            #expect(TokenService.bearerToken(authorization: "Bearer \(secrets[0])") == secrets[0])
            #expect(TokenService.bearerToken(authorization: "bearer  \(secrets[0])") == secrets[0])
            #expect(TokenService.bearerToken(authorization: "Basic abc") == nil)
            #expect(TokenService.bearerToken(authorization: nil) == nil)
            let audit = try await hub.allAudit(AuditFilter(action: .tokenCreated))
            #expect(audit.count == 5)
            for entry in audit { #expect(!secrets.contains { entry.after?.text.contains($0.suffix(43)) == true }) }
        }
    }

    @Test("constant-time comparison agrees with ==")
    func constantTimeEqual() {
        #expect(TokenSecret.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!TokenSecret.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!TokenSecret.constantTimeEqual([1, 2, 3], [1, 2]))
    }
}
