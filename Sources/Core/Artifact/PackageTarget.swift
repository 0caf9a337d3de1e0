/// The device a package is meant to run on: its agent version and firmware profile.
///
/// A verifier given a target refuses, right after the signature check (so only signed claims
/// are believed, and before any chunk is fetched), a package that needs a newer agent
/// (`agentTooOld`) or is built for other firmware profiles (`incompatibleProfile`). A nil field
/// is not checked, for tools that verify packages away from any device.
public struct PackageTarget: Sendable, Equatable {
    /// The agent's version, compared with the manifest's `minAgentVersion` (SemVer precedence).
    public var agentVersion: SemanticVersion?
    /// The device's firmware profile, which must be in the manifest's `profiles` unless that is empty.
    public var profile: String?

    /// A target; nil fields are not checked.
    public init(agentVersion: SemanticVersion? = nil, profile: String? = nil) {
        self.agentVersion = agentVersion
        self.profile = profile
    }
}

extension PackageManifest {
    /// Checks that a device described by `target` may run this package: `agentTooOld` when
    /// `minAgentVersion` is above the agent's version, `incompatibleProfile` when `profiles` is
    /// not empty and lacks the device's profile.
    public func checkCompatibility(with target: PackageTarget) throws(ArtifactError) {
        if let needed = minAgentVersion, let agent = target.agentVersion, agent < needed {
            throw ArtifactError(
                .agentTooOld,
                "package \(name) \(version) needs agent \(needed) or newer, and this agent is \(agent); upgrade the agent first")
        }
        if let profile = target.profile, !profiles.isEmpty, !profiles.contains(profile) {
            throw ArtifactError(
                .incompatibleProfile,
                "package \(name) \(version) is built for firmware profiles \(profiles.joined(separator: ", ")), "
                    + "not for this device's '\(profile)'; package the model for that profile")
        }
    }
}
