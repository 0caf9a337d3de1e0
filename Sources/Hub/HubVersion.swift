import Core

/// Version information of the hub.
public enum HubVersion {
    /// The hub's semantic version.
    public static let current = "0.1.0"
}
