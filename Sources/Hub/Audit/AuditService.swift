/// Reading the audit log. Rows are written by the stores, in the transaction of each change.
public struct AuditService: Sendable {
    /// The log.
    public let store: any AuditStore

    /// The audit log in `store`.
    public init(store: any AuditStore) {
        self.store = store
    }

    /// Entries matching `filter`, newest first; needs the operator role.
    public func entries(
        filter: AuditFilter = AuditFilter(), page: PageRequest = PageRequest(), by principal: Principal
    ) async throws -> Page<AuditEntry> {
        try principal.require(.operator)
        return try await store.auditEntries(filter: filter, page: page)
    }
}
