import Foundation

/// API bearer tokens: creation (secret shown once), authentication, listing and revocation.
///
/// Creating, listing and revoking need the admin role; `authenticate` turns a bearer token into
/// the `Principal` every other service takes. Authentication failures are `AuthError`s with
/// `httpStatus` 401; a store failure is a `HubStoreError` (500).
public struct TokenService: Sendable {
    /// Where tokens are kept.
    public let store: any TokenStore
    /// Milliseconds since the Unix epoch; injected so tests control time.
    public let now: @Sendable () -> Int64

    /// Tokens in `store`.
    public init(store: any TokenStore, now: @escaping @Sendable () -> Int64) {
        self.store = store
        self.now = now
    }

    /// Creates a token for `subject` with `role`, valid until `expiresAt` (ms since the epoch;
    /// nil for no expiry). The returned secret is never stored or shown again.
    public func create(
        subject: String, role: Role, expiresAt: Int64? = nil, by principal: Principal
    ) async throws -> IssuedToken {
        try principal.require(.admin)
        let subjectBytes = Array(subject.utf8)
        guard (1...128).contains(subjectBytes.count), subjectBytes.allSatisfy({ $0 > 32 && $0 != 127 }) else {
            throw AuthError(.invalidRequest, "a token subject must be 1-128 bytes without spaces or control characters")
        }
        let time = now()
        if let expiresAt, expiresAt <= time {
            throw AuthError(.invalidRequest, "the expiry lies in the past; give a later time")
        }
        let (id, text) = TokenSecret.generate()
        let record = TokenRecord(
            id: id, subject: subject, role: role, createdAt: time, createdBy: principal.subject, expiresAt: expiresAt,
            revokedAt: nil, revokedBy: nil)
        try await store.insertToken(
            record, secretHash: TokenSecret.hash(text), change: ChangeContext(subject: principal.subject, time: time))
        return IssuedToken(record: record, secret: text)
    }

    /// The principal a bearer token stands for. Refuses a malformed, unknown, wrong, revoked or
    /// expired token; the secret is compared by hash in constant time.
    public func authenticate(bearer token: String) async throws -> Principal {
        guard !token.isEmpty else { throw AuthError(.missingToken, "no bearer token; send 'Authorization: Bearer stk_...'") }
        guard let id = TokenSecret.id(of: token) else {
            throw AuthError(.malformedToken, "the bearer token is not a Starling token (stk_<id>_<secret>)")
        }
        let presented = TokenSecret.hash(token)
        guard let stored = try await store.token(id: id),
            TokenSecret.constantTimeEqual(presented, stored.secretHash)
        else {
            throw AuthError(.invalidToken, "the bearer token is not valid; ask an admin for a new one")
        }
        let record = stored.record
        if let revokedAt = record.revokedAt {
            throw AuthError(.revokedToken, "token \(id) was revoked at \(revokedAt) ms; ask an admin for a new one")
        }
        if let expiresAt = record.expiresAt, now() >= expiresAt {
            throw AuthError(.expiredToken, "token \(id) expired at \(expiresAt) ms; ask an admin for a new one")
        }
        return Principal(subject: record.subject, role: record.role, tokenId: id)
    }

    /// Tokens in creation order, revoked ones included (never their secrets).
    public func list(page: PageRequest = PageRequest(), by principal: Principal) async throws -> Page<TokenRecord> {
        try principal.require(.admin)
        return try await store.tokens(page: page)
    }

    /// Revokes token `id`; it stops working at once and stays revoked.
    @discardableResult
    public func revoke(id: String, by principal: Principal) async throws -> TokenRecord {
        try principal.require(.admin)
        return try await store.revokeToken(id: id, change: ChangeContext(subject: principal.subject, time: now()))
    }

    /// The token in an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
    public static func bearerToken(authorization header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }
}
