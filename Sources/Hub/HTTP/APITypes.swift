import Core

/// JSON request and response bodies of the API, where they differ from the domain records
/// (which are returned as they are: `RegisteredModel`, `ModelVersion`, `ModelAlias`, `Approval`,
/// `TokenRecord`, `AuditEntry`).
enum APITypes {
    /// One page of a list: `{"items": [...], "next": "..." | null}`.
    struct PageBody<Item: Encodable & Sendable>: Encodable {
        var items: [Item]
        var next: String?

        init(_ page: Page<Item>) {
            items = page.items
            next = page.next
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            try container.encode(next, forKey: .next)  // null on the last page, never absent
        }

        enum CodingKeys: String, CodingKey { case items, next }
    }

    /// `POST /api/v1/models`.
    struct CreateModel: Decodable {
        var name: String
        var description: String?
        var owner: String?
        var fourEyes: Bool?
    }

    /// `PATCH /api/v1/models/{name}`.
    struct UpdateModel: Decodable {
        var description: String?
        var owner: String?
        var fourEyes: Bool?
    }

    /// `PUT .../aliases/{alias}`.
    struct SetAlias: Decodable {
        var version: String
    }

    /// `PUT .../tags/{key}`.
    struct SetTag: Decodable {
        var value: String
    }

    /// `POST .../approvals`.
    struct RequestApproval: Decodable {
        var version: String
        var alias: String?
        var note: String?
    }

    /// `POST .../approvals/{id}/approve` and `/reject`; the body may be absent.
    struct Decision: Decodable {
        var reason: String?
    }

    /// `POST /api/v1/tokens`.
    struct CreateToken: Decodable {
        var subject: String
        var role: Role
        /// Milliseconds since the Unix epoch; absent for no expiry.
        var expiresAt: Int64?
    }

    /// A created token: its record and the secret, shown this once.
    struct IssuedTokenBody: Encodable {
        var token: TokenRecord
        var secret: String
    }

    /// `GET /health`.
    struct Health: Encodable {
        var status: String
        var version: String
    }
}
