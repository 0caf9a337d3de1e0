import Core

extension RegistryService {
    // MARK: - Aliases

    /// Points `alias` of a model at `version`. `production` of a model with four-eyes on is
    /// refused with `approvalRequired`: request an approval instead.
    @discardableResult
    public func setAlias(
        model: String, alias: String, version: SemanticVersion, by principal: Principal
    ) async throws -> ModelAlias {
        try principal.require(.operator)
        try RegistryNames.checkKey(alias, what: "alias")
        let record = try await self.model(named: model)
        if alias == ModelAlias.production && record.fourEyes {
            throw RegistryError(
                .approvalRequired,
                "\(model) requires four-eyes approval for '\(alias)': request an approval and have another subject approve it")
        }
        return try await mapped { () async throws(HubStoreError) in
            try await store.setAlias(model: model, name: alias, version: version.description, change: context(principal))
        }
    }

    /// Removes `alias` of a model; returns what it pointed at (nil when it was not set).
    @discardableResult
    public func clearAlias(model: String, alias: String, by principal: Principal) async throws -> ModelAlias? {
        try principal.require(.operator)
        return try await mapped { () async throws(HubStoreError) in
            try await store.clearAlias(model: model, name: alias, change: context(principal))
        }
    }

    /// A model's aliases, by name.
    public func aliases(model: String) async throws -> [ModelAlias] {
        try await mapped { () async throws(HubStoreError) in try await store.aliases(model: model) }
    }

    /// The version `alias` of a model points at (`notFound` when it is not set).
    public func resolve(model: String, alias: String) async throws -> ModelVersion {
        guard let target = try await aliases(model: model).first(where: { $0.name == alias }) else {
            throw RegistryError(.notFound, "model '\(model.prefix(80))' has no alias '\(alias.prefix(80))'")
        }
        return try await version(model: model, version: target.version)
    }

    // MARK: - Approvals

    /// Asks for `alias` (by default `production`) of a model to point at `version`. One request
    /// per model and alias may be pending at a time.
    @discardableResult
    public func requestApproval(
        model: String, version: SemanticVersion, alias: String = ModelAlias.production, note: String = "",
        by principal: Principal
    ) async throws -> Approval {
        try principal.require(.operator)
        try RegistryNames.checkKey(alias, what: "alias")
        try RegistryNames.checkText(note, what: "the note", limit: 4096)
        return try await mapped { () async throws(HubStoreError) in
            try await store.insertApproval(
                model: model, version: version.description, alias: alias, note: note, change: context(principal))
        }
    }

    /// Approves a pending request and sets its alias, in one transaction. With four-eyes on, the
    /// requester cannot approve their own request (`sameApprover`).
    @discardableResult
    public func approve(_ id: Int64, reason: String = "", by principal: Principal) async throws -> Approval {
        try principal.require(.operator)
        let request = try await pendingApproval(id)
        let model = try await self.model(named: request.model)
        if model.fourEyes && request.requestedBy == principal.subject {
            throw RegistryError(
                .sameApprover,
                "four-eyes: '\(principal.subject)' requested approval \(id) and cannot approve it; "
                    + "a different subject must approve")
        }
        return try await decide(id, approve: true, reason: reason, by: principal)
    }

    /// Rejects a pending request (the requester may withdraw their own).
    @discardableResult
    public func reject(_ id: Int64, reason: String = "", by principal: Principal) async throws -> Approval {
        try principal.require(.operator)
        _ = try await pendingApproval(id)
        return try await decide(id, approve: false, reason: reason, by: principal)
    }

    /// One approval (`notFound` when there is none).
    public func approval(_ id: Int64) async throws -> Approval {
        guard let found = try await mapped({ () async throws(HubStoreError) in try await store.approval(id: id) }) else {
            throw RegistryError(.notFound, "there is no approval \(id)")
        }
        return found
    }

    /// A model's approvals (optionally only those in `state`), newest first.
    public func approvals(
        model: String, state: ApprovalState? = nil, page: PageRequest = PageRequest()
    ) async throws -> Page<Approval> {
        try await mapped { () async throws(HubStoreError) in try await store.approvals(model: model, state: state, page: page) }
    }

    private func pendingApproval(_ id: Int64) async throws -> Approval {
        let request = try await approval(id)
        guard request.state == .pending else {
            throw RegistryError(
                .conflict, "approval \(id) was already \(request.state.rawValue) by \(request.decidedBy ?? "someone")")
        }
        return request
    }

    private func decide(_ id: Int64, approve: Bool, reason: String, by principal: Principal) async throws -> Approval {
        try RegistryNames.checkText(reason, what: "the reason", limit: 4096)
        return try await mapped { () async throws(HubStoreError) in
            try await store.decideApproval(id: id, approve: approve, reason: reason, change: context(principal))
        }
    }
}
