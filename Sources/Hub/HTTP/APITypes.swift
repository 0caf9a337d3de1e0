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

    /// `POST /api/v1/devices`: enrol a device; the broker fields override the hub's bundle settings.
    struct EnrollDevice: Decodable {
        var id: String
        var labels: [String: String]?
        var profile: String
        var brokerHost: String?
        var brokerPort: Int?
        /// A CA file path on the device, or `none` for a plain connection.
        var caFile: String?
    }

    /// An enrolled device and its bundle's files (the password appears nowhere else).
    struct Enrolment: Encodable {
        var device: Device
        var files: [String: String]
    }

    /// `PATCH /api/v1/devices/{id}`.
    struct UpdateDevice: Decodable {
        var labels: [String: String]
    }

    /// A device with its live status and health.
    struct DeviceView: Encodable, Sendable {
        var device: Device
        var status: DeviceLiveStatus?

        private enum Keys: String, CodingKey { case status, health }

        func encode(to encoder: any Encoder) throws {
            try device.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(status, forKey: .status)
            try c.encode((status?.health() ?? .unknown).rawValue, forKey: .health)
        }
    }

    /// `PUT /api/v1/groups/{name}`.
    struct SetGroup: Decodable {
        var selector: String
    }

    /// A group and how many enrolled devices it has.
    struct GroupSummary: Encodable, Sendable {
        var group: DeviceGroup
        var members: Int

        private enum Keys: String, CodingKey { case members }

        func encode(to encoder: any Encoder) throws {
            try group.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(members, forKey: .members)
        }
    }

    /// A group and its devices.
    struct GroupDetail: Encodable, Sendable {
        var group: DeviceGroup
        var devices: [DeviceView]

        private enum Keys: String, CodingKey { case devices }

        func encode(to encoder: any Encoder) throws {
            try group.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(devices, forKey: .devices)
        }
    }
}
