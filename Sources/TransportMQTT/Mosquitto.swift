import CMosquitto

/// The libmosquitto library this process is linked with.
public enum Mosquitto {
    /// Major, minor and revision of libmosquitto.
    public static var libraryVersion: (major: Int, minor: Int, revision: Int) {
        var major: Int32 = 0
        var minor: Int32 = 0
        var revision: Int32 = 0
        _ = mosquitto_lib_version(&major, &minor, &revision)
        return (Int(major), Int(minor), Int(revision))
    }

    /// Initializes libmosquitto (and through it OpenSSL) once per process, before the first
    /// client handle. Swift runs a global's initializer exactly once, whatever the thread.
    static func initializeLibrary() {
        _ = initialized
    }

    private static let initialized: Int32 = mosquitto_lib_init()
}
