/// Storage of models, versions, tags, aliases and approvals.
///
/// Every write takes the `ChangeContext` of who makes it and writes its audit row (with the
/// record before and after) in the same transaction: a change without its audit row is never
/// visible, nor the other way round. Implementations: `SQLiteHubStore`; PostgreSQL later.
public protocol RegistryStore: Sendable {
    /// Inserts a model; `conflict` when the name is taken.
    func insertModel(_ model: RegisteredModel, change: ChangeContext) async throws(HubStoreError)
    /// Replaces a model's mutable fields (description, owner, four-eyes); `notFound` for an unknown model.
    func updateModel(_ model: RegisteredModel, change: ChangeContext) async throws(HubStoreError)
    /// The model called `name`, if any.
    func model(named name: String) async throws(HubStoreError) -> RegisteredModel?
    /// Models in name order.
    func models(page: PageRequest) async throws(HubStoreError) -> Page<RegisteredModel>

    /// Inserts a version (its tags are ignored); `conflict` when it exists, `notFound` when the
    /// model or the lineage parent does not.
    func insertVersion(_ version: ModelVersion, change: ChangeContext) async throws(HubStoreError)
    /// One version of a model, with its tags.
    func version(model: String, version: String) async throws(HubStoreError) -> ModelVersion?
    /// A model's versions, most recently registered first.
    func versions(model: String, page: PageRequest) async throws(HubStoreError) -> Page<ModelVersion>

    /// Sets (or replaces) tag `key` on a version.
    func setTag(model: String, version: String, key: String, value: String, change: ChangeContext) async throws(HubStoreError)
    /// Removes tag `key` from a version; returns whether it was there.
    func removeTag(model: String, version: String, key: String, change: ChangeContext) async throws(HubStoreError) -> Bool

    /// Points alias `name` of a model at `version`; returns the alias.
    func setAlias(model: String, name: String, version: String, change: ChangeContext) async throws(HubStoreError) -> ModelAlias
    /// Removes an alias; returns what it pointed at, nil when it was not set.
    func clearAlias(model: String, name: String, change: ChangeContext) async throws(HubStoreError) -> ModelAlias?
    /// A model's aliases, by name.
    func aliases(model: String) async throws(HubStoreError) -> [ModelAlias]

    /// Records a pending approval for pointing `alias` at `version`; `conflict` when one is pending.
    func insertApproval(
        model: String, version: String, alias: String, note: String, change: ChangeContext
    ) async throws(HubStoreError) -> Approval
    /// Decides a pending approval as `change.subject`; approving also sets the alias, in the same
    /// transaction. `conflict` when it is no longer pending, `refused` when four-eyes forbids it.
    func decideApproval(
        id: Int64, approve: Bool, reason: String, change: ChangeContext
    ) async throws(HubStoreError) -> Approval
    /// One approval.
    func approval(id: Int64) async throws(HubStoreError) -> Approval?
    /// A model's approvals (optionally only those in `state`), newest first.
    func approvals(model: String, state: ApprovalState?, page: PageRequest) async throws(HubStoreError) -> Page<Approval>
}

/// Storage of API tokens: records and secret hashes, never the secrets.
public protocol TokenStore: Sendable {
    /// Inserts a token with the SHA-256 of its text.
    func insertToken(_ token: TokenRecord, secretHash: [UInt8], change: ChangeContext) async throws(HubStoreError)
    /// The token with `id` and its secret hash.
    func token(id: String) async throws(HubStoreError) -> (record: TokenRecord, secretHash: [UInt8])?
    /// Tokens in creation order, revoked ones included.
    func tokens(page: PageRequest) async throws(HubStoreError) -> Page<TokenRecord>
    /// Revokes a token; returns the revoked record (`notFound` for an unknown id, `conflict` when
    /// it was already revoked).
    func revokeToken(id: String, change: ChangeContext) async throws(HubStoreError) -> TokenRecord
}

/// Reading the audit log. Rows are appended by the other stores' writes, never by callers.
public protocol AuditStore: Sendable {
    /// Entries matching `filter`, newest first.
    func auditEntries(filter: AuditFilter, page: PageRequest) async throws(HubStoreError) -> Page<AuditEntry>
}
