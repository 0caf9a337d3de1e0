import Core

/// The rules for names in the registry, checked before anything is stored.
enum RegistryNames {
    /// A model name: what a package name may be (1-64 of A-Z a-z 0-9 . _ -).
    static func checkModel(_ name: String) throws(RegistryError) {
        guard PackageManifest.isValidName(name) else {
            throw RegistryError(.invalidArgument, "model name '\(name.prefix(80))' must be 1-64 of A-Z a-z 0-9 . _ -")
        }
    }

    /// An alias or tag key: 1-64 of a-z 0-9 . _ - starting with a letter or digit.
    static func checkKey(_ name: String, what: String) throws(RegistryError) {
        let bytes = Array(name.utf8)
        let allowed = bytes.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 46 || $0 == 95 || $0 == 45 }
        guard (1...64).contains(bytes.count), allowed, let first = bytes.first, first != 46, first != 95, first != 45 else {
            throw RegistryError(
                .invalidArgument, "\(what) '\(name.prefix(80))' must be 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
    }

    /// A free-text field of at most `limit` bytes.
    static func checkText(_ text: String, what: String, limit: Int) throws(RegistryError) {
        guard text.utf8.count <= limit else {
            throw RegistryError(.invalidArgument, "\(what) has \(text.utf8.count) bytes; at most \(limit) are kept")
        }
    }

    /// A semantic version given as text.
    static func version(_ text: String) throws(RegistryError) -> SemanticVersion {
        guard let version = SemanticVersion(text) else {
            throw RegistryError(.invalidArgument, "'\(text.prefix(80))' is not a semantic version (MAJOR.MINOR.PATCH)")
        }
        return version
    }

    /// Lineage: short identifiers, SHA-256 hex data digests.
    static func checkLineage(_ lineage: Lineage) throws(RegistryError) {
        for (value, what) in [
            (lineage.trainingRun, "training run id"), (lineage.federatedRound, "federated round id"),
            (lineage.importSource, "import source"),
        ] {
            if let value { try checkText(value, what: what, limit: 1024) }
        }
        if let bad = lineage.dataDigests.first(where: { !ArtifactReference.isDigest($0) }) {
            throw RegistryError(
                .invalidArgument, "data digest '\(bad.prefix(80))' is not a SHA-256 digest (64 lowercase hex digits)")
        }
    }
}
