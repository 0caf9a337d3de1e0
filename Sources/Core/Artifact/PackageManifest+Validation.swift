extension PackageManifest {
    /// Checks every field: names, versions, time, key id, digests, chunk geometry, delta ranges,
    /// and sizes against `limits` (`tooLarge`); everything else is `malformedManifest`.
    public func validate(limits: ArtifactLimits = .standard) throws(ArtifactError) {
        func fail(_ why: String) -> ArtifactError { ArtifactError(.malformedManifest, "package manifest: \(why)") }
        guard format == Self.currentFormat else {
            if format > Self.currentFormat {
                throw ArtifactError(
                    .unsupportedFormat, "package format \(format) is newer than this reader supports; upgrade starling")
            }
            throw fail("format \(format) is not a version this reader knows")
        }
        guard Self.isValidName(name) else { throw fail("name '\(name)' must be 1-64 of A-Z a-z 0-9 . _ -") }
        guard Self.isValidTimestamp(createdAt) else {
            throw fail("createdAt '\(createdAt)' is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ)")
        }
        guard PackageDigest.isHex(keyId, bytes: SigningKey.keyIdBytes) else {
            throw fail("keyId '\(keyId)' is not 16 hex digits")
        }
        guard profiles.allSatisfy(Self.isValidName) else { throw fail("a firmware profile name is invalid") }
        guard zip(profiles, profiles.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw fail("profiles must be sorted and unique")
        }
        guard payload.compression == "zstd" else { throw fail("compression '\(payload.compression)' is not supported") }

        guard payload.size >= 1 else { throw fail("payload size \(payload.size) is invalid") }
        guard payload.size <= limits.maxPayloadBytes else {
            throw ArtifactError(.tooLarge, "the payload has \(payload.size) bytes, over the limit of \(limits.maxPayloadBytes)")
        }
        guard model.size >= 1 else { throw fail("model size \(model.size) is invalid") }
        guard model.size <= limits.maxModelBytes else {
            throw ArtifactError(
                .tooLarge, "the model declares \(model.size) uncompressed bytes, over the limit of \(limits.maxModelBytes)")
        }
        guard PackageDigest.isHex(payload.sha256, bytes: 32), PackageDigest.isHex(model.sha256, bytes: 32) else {
            throw fail("a SHA-256 digest is not 64 hex digits")
        }
        guard (limits.minChunkBytes...limits.maxChunkBytes).contains(payload.chunkSize) else {
            throw fail("chunk size \(payload.chunkSize) is outside \(limits.minChunkBytes)...\(limits.maxChunkBytes)")
        }
        guard payload.chunks.count == Self.chunkCount(size: payload.size, chunkSize: payload.chunkSize) else {
            throw fail("\(payload.chunks.count) chunk digests for \(payload.size) bytes in chunks of \(payload.chunkSize)")
        }
        guard payload.chunks.allSatisfy({ PackageDigest.isHex($0, bytes: 32) }) else {
            throw fail("a chunk digest is not 64 hex digits")
        }
        if let delta { try validate(delta, limits: limits) }
    }

    private func validate(_ delta: DeltaBase, limits: ArtifactLimits) throws(ArtifactError) {
        func fail(_ why: String) -> ArtifactError { ArtifactError(.malformedManifest, "package manifest: delta \(why)") }
        guard Self.isValidName(delta.name) else { throw fail("base name '\(delta.name)' is invalid") }
        guard (1...limits.maxModelBytes).contains(delta.size) else {
            throw ArtifactError(
                .tooLarge, "the delta base declares \(delta.size) bytes, over the limit of \(limits.maxModelBytes)")
        }
        guard PackageDigest.isHex(delta.sha256, bytes: 32) else { throw fail("base digest is not 64 hex digits") }
        if let s = delta.subtract {
            guard s.offset >= 0, s.baseOffset >= 0, s.length >= 1, s.length <= model.size - s.offset,
                s.length <= delta.size - s.baseOffset
            else { throw fail("subtraction range is outside the model or its base") }
        }
    }

    /// True for `YYYY-MM-DDTHH:MM:SSZ` with plausible field ranges.
    static func isValidTimestamp(_ text: String) -> Bool {
        let c = Array(text.utf8)
        guard c.count == 20, c[4] == 45, c[7] == 45, c[10] == 84, c[13] == 58, c[16] == 58, c[19] == 90 else { return false }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard c[i] >= 48 && c[i] <= 57 else { return nil }
                value = value * 10 + Int(c[i] - 48)
            }
            return value
        }
        guard number(0..<4) != nil, let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return false }
        return (1...12).contains(month) && (1...31).contains(day) && hour < 24 && minute < 60 && second < 61
    }

    /// The RFC 3339 UTC form of `seconds` since 1970 (the proleptic Gregorian calendar).
    public static func timestamp(secondsSince1970 seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        // Civil-from-days (H. Hinnant), exact for every Int64 day count in range.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return
            "\(yearText)-\(two(Int(month)))-\(two(Int(day)))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }
}
