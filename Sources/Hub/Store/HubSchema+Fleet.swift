import GRDB

/// The fleet's tables: devices with their broker credential hash, named groups, and the last
/// known live status of each device.
extension HubSchema {
    static func createDevices(_ db: Database) throws {
        // The password hash is what the broker's password file holds ($7$ PBKDF2-SHA512); the
        // file is rendered from these rows. A decommissioned device has none.
        try db.execute(
            sql: """
                CREATE TABLE devices (
                    id TEXT PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
                    labels TEXT NOT NULL CHECK (json_valid(labels) AND json_type(labels) = 'object'),
                    profile TEXT NOT NULL CHECK (length(profile) BETWEEN 1 AND 128),
                    state TEXT NOT NULL CHECK (state IN ('enrolled', 'decommissioned')),
                    password_hash TEXT CHECK (password_hash IS NULL OR password_hash LIKE '$7$%'),
                    enrolled_at INTEGER NOT NULL,
                    enrolled_by TEXT NOT NULL,
                    decommissioned_at INTEGER,
                    decommissioned_by TEXT,
                    CHECK ((state = 'enrolled') = (password_hash IS NOT NULL)),
                    CHECK ((state = 'decommissioned') = (decommissioned_at IS NOT NULL)),
                    CHECK ((decommissioned_at IS NULL) = (decommissioned_by IS NULL))
                );
                CREATE TRIGGER devices_no_delete BEFORE DELETE ON devices
                BEGIN
                    SELECT RAISE(ABORT, 'devices are decommissioned, never deleted');
                END;
                """)
    }

    static func createDeviceGroups(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE device_groups (
                    name TEXT PRIMARY KEY NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
                    selector TEXT NOT NULL CHECK (length(selector) <= 4096),
                    updated_at INTEGER NOT NULL,
                    updated_by TEXT NOT NULL
                );
                """)
    }

    static func createDeviceStatus(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE device_status (
                    device_id TEXT PRIMARY KEY NOT NULL REFERENCES devices(id),
                    status TEXT NOT NULL CHECK (json_valid(status) AND json_type(status) = 'object'),
                    updated_at INTEGER NOT NULL
                );
                """)
    }
}
