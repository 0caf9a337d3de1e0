import Core

/// A registered model: a name that versions, aliases and approvals hang off.
public struct RegisteredModel: Sendable, Equatable, Codable {
    /// Unique name (1-64 of A-Z a-z 0-9 . _ -), also the package name.
    public var name: String
    /// Free text for people.
    public var description: String
    /// Who is responsible for it (a person or a team).
    public var owner: String
    /// Whether setting `production` needs an approval by a subject other than the requester.
    public var fourEyes: Bool
    /// Milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// The token subject that created it.
    public var createdBy: String

    /// A model record.
    public init(name: String, description: String, owner: String, fourEyes: Bool, createdAt: Int64, createdBy: String) {
        self.name = name
        self.description = description
        self.owner = owner
        self.fourEyes = fourEyes
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// Where a version came from.
public struct Lineage: Sendable, Equatable, Codable {
    /// The version of the same model it derives from.
    public var parent: SemanticVersion?
    /// The training run that produced it.
    public var trainingRun: String?
    /// The federated round that produced it.
    public var federatedRound: String?
    /// Where it was imported from (e.g. an ONNX file's URL or path).
    public var importSource: String?
    /// SHA-256 digests (hex) of the data sets it was trained or calibrated on.
    public var dataDigests: [String]

    /// A lineage; everything is optional.
    public init(
        parent: SemanticVersion? = nil, trainingRun: String? = nil, federatedRound: String? = nil, importSource: String? = nil,
        dataDigests: [String] = []
    ) {
        self.parent = parent
        self.trainingRun = trainingRun
        self.federatedRound = federatedRound
        self.importSource = importSource
        self.dataDigests = dataDigests
    }
}

/// A stored artifact: its SHA-256 (hex) and size in bytes.
public struct ArtifactReference: Sendable, Equatable, Hashable, Codable {
    /// SHA-256 of the bytes, lowercase hex.
    public var digest: String
    /// Size in bytes.
    public var size: Int

    /// A reference.
    public init(digest: String, size: Int) {
        self.digest = digest
        self.size = size
    }
}

/// A registered, immutable version of a model, with its model file and signed package.
public struct ModelVersion: Sendable, Equatable, Codable {
    /// The model's name.
    public var model: String
    /// The semantic version.
    public var version: SemanticVersion
    /// Free-form JSON object (metrics, notes, anything a tool wants to keep).
    public var metadata: [String: JSONValue]
    /// Where it came from.
    public var lineage: Lineage
    /// The model file in the artifact store.
    public var modelFile: ArtifactReference
    /// The signed package file in the artifact store.
    public var package: ArtifactReference
    /// The package id (`PackageHead.id`: SHA-256 of the signed manifest).
    public var packageId: String
    /// The id of the hub key that signed the package.
    public var signingKeyId: String
    /// Milliseconds since the Unix epoch.
    public var registeredAt: Int64
    /// The token subject that registered it.
    public var registeredBy: String
    /// Mutable key/value tags (not part of the immutable content).
    public var tags: [String: String]
}

/// A name (`production`, `canary`, any) pointing at one version of a model.
public struct ModelAlias: Sendable, Equatable, Codable {
    /// The alias set by an approved request, and guarded by four-eyes when the model asks for it.
    public static let production = "production"
    /// The usual alias for a canary rollout.
    public static let canary = "canary"

    /// The model's name.
    public var model: String
    /// The alias name.
    public var name: String
    /// The version it points at.
    public var version: SemanticVersion
    /// Milliseconds since the Unix epoch.
    public var setAt: Int64
    /// The token subject that set it (for an approval, the approver).
    public var setBy: String
}

/// Where an approval stands.
public enum ApprovalState: String, Sendable, Codable, CaseIterable {
    /// Waiting for a decision.
    case pending
    /// Approved: the alias was set to the version.
    case approved
    /// Rejected (or withdrawn by the requester).
    case rejected
}

/// A request to point an alias (usually `production`) at a version, and its decision.
public struct Approval: Sendable, Equatable, Codable {
    /// Its id, unique in the hub.
    public var id: Int64
    /// The model's name.
    public var model: String
    /// The version to point the alias at.
    public var version: SemanticVersion
    /// The alias.
    public var alias: String
    /// Where it stands.
    public var state: ApprovalState
    /// The token subject that asked.
    public var requestedBy: String
    /// Milliseconds since the Unix epoch.
    public var requestedAt: Int64
    /// Why, from the requester.
    public var note: String
    /// The token subject that decided, once decided.
    public var decidedBy: String?
    /// Milliseconds since the Unix epoch, once decided.
    public var decidedAt: Int64?
    /// Why, from the decider.
    public var reason: String
}
