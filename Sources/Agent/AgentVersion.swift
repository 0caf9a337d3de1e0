import Core

/// Version information of the device agent.
public enum AgentVersion {
    /// The agent's semantic version.
    public static let current = "0.1.0"
    /// The newest model file format this agent reads.
    public static let modelFormat = ModelFile.formatVersion
}
