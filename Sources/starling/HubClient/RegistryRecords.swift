// The hub's registry, token and audit records as the CLI reads them (docs/openapi.yaml). Only
// what the tables show is decoded; `--json` prints the hub's document whole.

/// `RegisteredModel`.
struct ModelRecord: Decodable {
    var name: String
    var description: String
    var owner: String
    var fourEyes: Bool
    var createdAt: Int64
    var createdBy: String
}

/// A stored file: SHA-256 and size.
struct ArtifactRecord: Decodable {
    var digest: String
    var size: Int
}

/// Where a version came from.
struct LineageRecord: Decodable {
    var parent: String?
    var trainingRun: String?
    var federatedRound: String?
    var importSource: String?
    var dataDigests: [String]?
}

/// `ModelVersion`.
struct VersionRecord: Decodable {
    var model: String
    var version: String
    var metadata: [String: JSONValue]?
    var lineage: LineageRecord?
    var modelFile: ArtifactRecord
    var package: ArtifactRecord
    var packageId: String
    var signingKeyId: String
    var registeredAt: Int64
    var registeredBy: String
    var tags: [String: String]?
}

/// `ModelAlias`.
struct AliasRecord: Decodable {
    var model: String
    var name: String
    var version: String
    var setAt: Int64
    var setBy: String
}

/// `Approval`.
struct ApprovalRecord: Decodable {
    var id: Int64
    var model: String
    var version: String
    var alias: String
    var state: String
    var requestedBy: String
    var requestedAt: Int64
    var note: String?
    var decidedBy: String?
    var decidedAt: Int64?
    var reason: String?
}

/// `TokenRecord`.
struct TokenRecord: Decodable {
    var id: String
    var subject: String
    var role: String
    var createdAt: Int64
    var createdBy: String
    var expiresAt: Int64?
    var revokedAt: Int64?
    var revokedBy: String?

    /// `active`, `expired` or `revoked` at `now`.
    func state(now: Int64) -> String {
        if revokedAt != nil { return "revoked" }
        if let expiresAt, expiresAt <= now { return "expired" }
        return "active"
    }
}

/// A created token: its record and the secret, shown once.
struct IssuedTokenRecord: Decodable {
    var token: TokenRecord
    var secret: String
}

/// `AuditEntry`.
struct AuditRecord: Decodable {
    var id: Int64
    var time: Int64
    var subject: String
    var action: String
    var target: String
}
