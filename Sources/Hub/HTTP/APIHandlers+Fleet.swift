import Core
import Hummingbird

extension APIHandlers {
    var fleet: FleetService { services.fleet }

    // MARK: - Devices

    func listDevices(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        if let text = request.query("selector") {
            let devices = try await fleet.devices(matching: try LabelSelector(parsing: text), by: caller)
            return try JSONBody.response(APITypes.PageBody(Page(items: await views(devices), next: nil)))
        }
        let page = try await fleet.devices(page: request.pageRequest(), by: caller)
        return try JSONBody.response(APITypes.PageBody(Page(items: await views(page.items), next: page.next)))
    }

    func enrollDevice(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.EnrollDevice.self, from: request)
        var settings = fleet.bundleSettings
        if let host = body.brokerHost { settings.brokerHost = host }
        if let port = body.brokerPort {
            guard (1...65535).contains(port) else { throw APIError.invalidRequest("brokerPort must be within 1...65535") }
            settings.brokerPort = port
        }
        if let caFile = body.caFile { settings.caFile = caFile == "none" || caFile.isEmpty ? nil : caFile }
        let bundle = try await fleet.enroll(
            device: body.id, labels: body.labels ?? [:], profile: body.profile, settings: settings, by: caller)
        guard let device = try await fleet.device(id: body.id, by: caller) else {
            throw APIError.invalidRequest("device '\(body.id)' vanished while enrolling")
        }
        var files = [
            EnrolmentBundle.agentFileName: String(decoding: try bundle.agentJSON(), as: UTF8.self),
            EnrolmentBundle.passwordFileName: bundle.password,
            EnrolmentBundle.trustFileName: String(decoding: try bundle.trustJSON(), as: UTF8.self),
        ]
        if !bundle.deviceKey.isEmpty {
            files[EnrolmentBundle.deviceKeyFileName] = String(decoding: bundle.deviceKey, as: UTF8.self)
        }
        return try JSONBody.response(APITypes.Enrolment(device: device, files: files), status: .created)
    }

    func getDevice(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.path("id")
        guard let device = try await fleet.device(id: id, by: caller) else {
            throw FleetError(.notFound, "there is no device '\(id)'")
        }
        return try JSONBody.response(await view(device))
    }

    func updateDevice(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.UpdateDevice.self, from: request)
        return try JSONBody.response(try await fleet.setLabels(device: context.path("id"), labels: body.labels, by: caller))
    }

    func decommissionDevice(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let device = try await fleet.decommission(device: context.path("id"), by: caller)
        await services.monitor.forget(device.id)
        return try JSONBody.response(device)
    }

    // MARK: - Groups

    func listGroups(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        var items: [APITypes.GroupSummary] = []
        for group in try await fleet.groups(by: caller) {
            let members = try await fleet.devices(matching: try LabelSelector(parsing: group.selector), by: caller)
            items.append(APITypes.GroupSummary(group: group, members: members.count))
        }
        return try JSONBody.response(APITypes.PageBody(Page(items: items, next: nil)))
    }

    func setGroup(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let body = try await JSONBody.decode(APITypes.SetGroup.self, from: request)
        return try JSONBody.response(try await fleet.setGroup(name: context.path("name"), selector: body.selector, by: caller))
    }

    func getGroup(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        let name = try context.path("name")
        guard let group = try await fleet.groups(by: caller).first(where: { $0.name == name }) else {
            throw FleetError(.notFound, "there is no group '\(name)'")
        }
        let members = try await fleet.members(ofGroup: name, by: caller)
        return try JSONBody.response(APITypes.GroupDetail(group: group, devices: await views(members)))
    }

    func removeGroup(_ request: Request, _ context: HubRequestContext) async throws -> Response {
        let caller = try context.caller()
        try await fleet.removeGroup(name: context.path("name"), by: caller)
        return Response(status: .noContent)
    }

    // MARK: - Helpers

    private func view(_ device: Device) async -> APITypes.DeviceView {
        APITypes.DeviceView(device: device, status: await services.monitor.status(of: device.id))
    }

    private func views(_ devices: [Device]) async -> [APITypes.DeviceView] {
        var result: [APITypes.DeviceView] = []
        for device in devices { result.append(await view(device)) }
        return result
    }
}
