import Foundation
import GRDB

extension SQLiteHubStore: FleetStore {
    // MARK: - Devices

    public func enrollDevice(_ device: Device, passwordHash: String, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("enrolling device '\(device.id)'") { db in
            let before = try Self.fetchDevice(db, id: device.id)
            if let before, before.state == .enrolled {
                throw HubStoreError(.conflict, "device '\(device.id)' is already enrolled; decommission it first to re-enrol")
            }
            try db.execute(
                sql: """
                    INSERT INTO devices (id, labels, profile, state, password_hash, enrolled_at, enrolled_by, signing_key)
                    VALUES (?, ?, ?, 'enrolled', ?, ?, ?, ?)
                    ON CONFLICT (id) DO UPDATE SET labels = excluded.labels, profile = excluded.profile,
                        state = 'enrolled', password_hash = excluded.password_hash, enrolled_at = excluded.enrolled_at,
                        enrolled_by = excluded.enrolled_by, decommissioned_at = NULL, decommissioned_by = NULL,
                        signing_key = excluded.signing_key
                    """,
                arguments: [
                    device.id, try JSONValue.encode(device.labels), device.profile, passwordHash, device.enrolledAt,
                    device.enrolledBy, device.signingKey,
                ])
            let after = try Self.fetchDevice(db, id: device.id)
            try Self.audit(db, change, .deviceEnrolled, AuditTarget.device(device.id), before: before, after: after)
        }
    }

    public func decommissionDevice(id: String, change: ChangeContext) async throws(HubStoreError) -> Device {
        try await database.write("decommissioning device '\(id)'") { db in
            guard let before = try Self.fetchDevice(db, id: id) else {
                throw HubStoreError(.notFound, "there is no device '\(id)'")
            }
            guard before.state == .enrolled else { throw HubStoreError(.conflict, "device '\(id)' is already decommissioned") }
            try db.execute(
                sql: """
                    UPDATE devices SET state = 'decommissioned', password_hash = NULL, decommissioned_at = ?,
                        decommissioned_by = ? WHERE id = ?
                    """,
                arguments: [change.time, change.subject, id])
            let after = try Self.fetchDevice(db, id: id)!
            try Self.audit(db, change, .deviceDecommissioned, AuditTarget.device(id), before: before, after: after)
            return after
        }
    }

    public func setLabels(device id: String, labels: [String: String], change: ChangeContext) async throws(HubStoreError)
        -> Device
    {
        try await database.write("setting the labels of device '\(id)'") { db in
            guard let before = try Self.fetchDevice(db, id: id) else {
                throw HubStoreError(.notFound, "there is no device '\(id)'")
            }
            try db.execute(
                sql: "UPDATE devices SET labels = ? WHERE id = ?", arguments: [try JSONValue.encode(labels), id])
            let after = try Self.fetchDevice(db, id: id)!
            try Self.audit(db, change, .deviceLabelsSet, AuditTarget.device(id), before: before, after: after)
            return after
        }
    }

    public func device(id: String) async throws(HubStoreError) -> Device? {
        try await database.read("reading device '\(id)'") { db in try Self.fetchDevice(db, id: id) }
    }

    public func devices(page: PageRequest) async throws(HubStoreError) -> Page<Device> {
        try page.checkLimit()
        return try await database.read("listing devices") { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM devices WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [page.cursor ?? "", page.limit + 1])
            return Page.trimmed(try rows.map(Self.device(from:)), limit: page.limit) { $0.id }
        }
    }

    public func credentials() async throws(HubStoreError) -> [(device: Device, credential: DeviceCredential)] {
        try await database.read("reading device credentials") { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM devices WHERE state = 'enrolled' ORDER BY id")
            return try rows.map { row in
                let device = try Self.device(from: row)
                return (device, DeviceCredential(device: device.id, passwordHash: row["password_hash"]))
            }
        }
    }

    // MARK: - Groups

    public func setGroup(_ group: DeviceGroup, change: ChangeContext) async throws(HubStoreError) {
        try await database.write("setting group '\(group.name)'") { db in
            let before = try Self.fetchGroup(db, name: group.name)
            try db.execute(
                sql: """
                    INSERT INTO device_groups (name, selector, updated_at, updated_by) VALUES (?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET selector = excluded.selector, updated_at = excluded.updated_at,
                        updated_by = excluded.updated_by
                    """,
                arguments: [group.name, group.selector, group.updatedAt, group.updatedBy])
            try Self.audit(db, change, .groupSet, AuditTarget.group(group.name), before: before, after: group)
        }
    }

    public func removeGroup(name: String, change: ChangeContext) async throws(HubStoreError) -> Bool {
        try await database.write("removing group '\(name)'") { db in
            guard let before = try Self.fetchGroup(db, name: name) else { return false }
            try db.execute(sql: "DELETE FROM device_groups WHERE name = ?", arguments: [name])
            try Self.audit(db, change, .groupRemoved, AuditTarget.group(name), before: before, after: nil)
            return true
        }
    }

    public func groups() async throws(HubStoreError) -> [DeviceGroup] {
        try await database.read("listing groups") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM device_groups ORDER BY name").map(Self.group(from:))
        }
    }

    // MARK: - Live status

    public func saveLiveStatuses(_ statuses: [DeviceLiveStatus], time: Int64) async throws(HubStoreError) {
        guard !statuses.isEmpty else { return }
        // Encoded before the transaction, so the writer is held only for the inserts.
        let rows: [(String, String)]
        do {
            rows = try statuses.map { ($0.device, try JSONValue.encode($0)) }
        } catch {
            throw HubStoreError(.ioFailed, "cannot encode the live status of \(statuses.count) devices", underlying: error)
        }
        try await database.write("saving the status of \(statuses.count) devices") { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO device_status (device_id, status, updated_at) VALUES (?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at
                    """)
            for (device, text) in rows { try statement.execute(arguments: [device, text, time]) }
        }
    }

    public func liveStatuses() async throws(HubStoreError) -> [DeviceLiveStatus] {
        try await database.read("reading device status") { db in
            try String.fetchAll(db, sql: "SELECT status FROM device_status ORDER BY device_id").map { text in
                try JSONDecoder().decode(DeviceLiveStatus.self, from: Data(text.utf8))
            }
        }
    }

    // MARK: - Rows

    static func fetchDevice(_ db: Database, id: String) throws -> Device? {
        try Row.fetchOne(db, sql: "SELECT * FROM devices WHERE id = ?", arguments: [id]).map(device(from:))
    }

    static func device(from row: Row) throws -> Device {
        let stateText: String = row["state"]
        guard let state = DeviceState(rawValue: stateText) else {
            throw HubStoreError(.ioFailed, "the database holds device state '\(stateText)', which this hub does not know")
        }
        let labelsText: String = row["labels"]
        let labels = try JSONDecoder().decode([String: String].self, from: Data(labelsText.utf8))
        return Device(
            id: row["id"], labels: labels, profile: row["profile"], state: state, enrolledAt: row["enrolled_at"],
            enrolledBy: row["enrolled_by"], decommissionedAt: row["decommissioned_at"], decommissionedBy: row["decommissioned_by"],
            signingKey: row["signing_key"])
    }

    static func fetchGroup(_ db: Database, name: String) throws -> DeviceGroup? {
        try Row.fetchOne(db, sql: "SELECT * FROM device_groups WHERE name = ?", arguments: [name]).map(group(from:))
    }

    static func group(from row: Row) -> DeviceGroup {
        DeviceGroup(name: row["name"], selector: row["selector"], updatedAt: row["updated_at"], updatedBy: row["updated_by"])
    }
}
