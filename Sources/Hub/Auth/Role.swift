/// What a token may do; each role includes the ones below it.
public enum Role: String, Sendable, Codable, CaseIterable, Comparable {
    /// Reads everything except tokens.
    case viewer
    /// Also registers models and versions, tags, sets aliases, requests and decides approvals.
    case `operator`
    /// Also manages tokens and changes a model's four-eyes setting.
    case admin

    /// The rank: viewer < operator < admin.
    var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    /// Orders by rank.
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// The authenticated caller of a hub operation: who (the token's subject) and with which role.
public struct Principal: Sendable, Equatable {
    /// The token's subject: the name that the audit log records.
    public var subject: String
    /// The token's role.
    public var role: Role
    /// The id of the token used (nil for the local command line).
    public var tokenId: String?

    /// A principal.
    public init(subject: String, role: Role, tokenId: String? = nil) {
        self.subject = subject
        self.role = role
        self.tokenId = tokenId
    }

    /// The hub's own command line on its machine (`starling-hub token create`): an admin, because
    /// whoever can open the data directory owns the hub anyway.
    public static let localCommandLine = Principal(subject: "local-cli", role: .admin)

    /// Throws `forbidden` unless the principal's role is at least `role`.
    public func require(_ role: Role) throws(AuthError) {
        guard self.role >= role else {
            throw AuthError(
                .forbidden, "'\(subject)' has role \(self.role.rawValue); this needs \(role.rawValue) or higher")
        }
    }
}

/// An API token as stored: everything but the secret, which is kept only as its SHA-256.
public struct TokenRecord: Sendable, Equatable, Codable {
    /// The public id (16 hex digits), part of the token text and used to look it up.
    public var id: String
    /// Who the token stands for; recorded in the audit log for every change it makes.
    public var subject: String
    /// What it may do.
    public var role: Role
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// The subject that created it.
    public var createdBy: String
    /// When it stops working (milliseconds since the Unix epoch); nil for never.
    public var expiresAt: Int64?
    /// When it was revoked, if it was.
    public var revokedAt: Int64?
    /// Who revoked it, if anyone did.
    public var revokedBy: String?

    /// Whether the token works at `time`: not revoked and not expired.
    public func isActive(at time: Int64) -> Bool {
        revokedAt == nil && (expiresAt.map { time < $0 } ?? true)
    }
}

/// A token just created: its record and the secret text, shown to the caller once and never again.
public struct IssuedToken: Sendable {
    /// The stored record.
    public var record: TokenRecord
    /// The bearer token text (`stk_<id>_<secret>`); the hub keeps only its hash.
    public var secret: String
}
