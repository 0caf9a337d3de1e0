import Core
import Crypto

/// A Mosquitto password file (`password_file`), written without `mosquitto_passwd`: the hub adds
/// and removes device accounts at run time, then sends the broker SIGHUP to reload it.
///
/// Hashes use Mosquitto 2's default format, `$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512
/// with a 12-byte random salt and a 64-byte key, base64 encoded.
public struct MosquittoPasswordFile: Sendable, Equatable {
    /// Hash lines by user name.
    public private(set) var entries: [String: String] = [:]

    /// An empty file.
    public init() {}

    /// Parses a password file (`user:hash` lines; `#` comments and blank lines are skipped).
    public init(parsing text: String) throws(MosquittoError) {
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.trimmingSuffix("\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw MosquittoError(.invalidInput, "password file line \(number + 1) has no ':'")
            }
            entries[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
    }

    /// Sets the password of `user` (added if new), hashed with a fresh random salt.
    public mutating func setPassword(_ password: String, for user: String, iterations: Int = 101) throws(MosquittoError) {
        try Self.validateUser(user)
        entries[user] = Self.hash(password, iterations: iterations)
    }

    /// Removes `user`; true if it was there.
    @discardableResult
    public mutating func removeUser(_ user: String) -> Bool {
        entries.removeValue(forKey: user) != nil
    }

    /// Whether `password` is the password of `user`.
    public func verify(_ password: String, for user: String) -> Bool {
        entries[user].map { Self.verify(password, against: $0) } ?? false
    }

    /// The file's text, users sorted.
    public func render() -> String {
        entries.keys.sorted().map { "\($0):\(entries[$0]!)\n" }.joined()
    }

    // MARK: - Hashing

    /// The `$7$` hash of `password` with `salt` (12 random bytes when nil).
    public static func hash(_ password: String, salt: [UInt8]? = nil, iterations: Int = 101) -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = salt ?? (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = pbkdf2SHA512(password: Array(password.utf8), salt: salt, iterations: max(1, iterations))
        return "$7$\(max(1, iterations))$\(Base64.encode(salt))$\(Base64.encode(key))"
    }

    /// Whether `password` matches a `$7$` hash line.
    public static func verify(_ password: String, against hash: String) -> Bool {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "7", let iterations = Int(parts[2]), iterations > 0,
            let salt = Base64.decode(String(parts[3])), let expected = Base64.decode(String(parts[4]))
        else { return false }
        let key = pbkdf2SHA512(password: Array(password.utf8), salt: salt, iterations: iterations)
        // Constant time in the key bytes.
        guard key.count == expected.count else { return false }
        return zip(key, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// PBKDF2 (RFC 8018) with HMAC-SHA512, one 64-byte block.
    static func pbkdf2SHA512(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var block = HMAC<SHA512>.authenticationCode(for: salt + [0, 0, 0, 1], using: key)
        var result = Array(block)
        for _ in 1..<max(1, iterations) {
            block = HMAC<SHA512>.authenticationCode(for: Array(block), using: key)
            for (index, byte) in block.enumerated() { result[index] ^= byte }
        }
        return result
    }

    static func validateUser(_ user: String) throws(MosquittoError) {
        guard !user.isEmpty, !user.contains(where: { $0 == ":" || $0 == "\n" || $0 == "\r" || $0 == "\0" }) else {
            throw MosquittoError(.invalidInput, "the user name '\(user)' must be non-empty, without ':', line breaks or NUL")
        }
    }
}

extension Substring {
    fileprivate func trimmingSuffix(_ suffix: Character) -> Substring {
        last == suffix ? dropLast() : self
    }
}

/// Standard base64 with padding (Mosquitto's password file encoding).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var lookup = [Int8](repeating: -1, count: 256)
        for (value, char) in alphabet.enumerated() { lookup[Int(char)] = Int8(value) }
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < chars.count {
            var values: [UInt32] = []
            var padding = 0
            for char in chars[index..<index + 4] {
                if char == UInt8(ascii: "=") {
                    padding += 1
                    values.append(0)
                } else {
                    guard padding == 0, lookup[Int(char)] >= 0 else { return nil }
                    values.append(UInt32(lookup[Int(char)]))
                }
            }
            guard padding <= 2, padding == 0 || index + 4 == chars.count else { return nil }
            let triple = values[0] << 18 | values[1] << 12 | values[2] << 6 | values[3]
            out.append(UInt8(triple >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(triple >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(triple & 0xFF)) }
            index += 4
        }
        return out
    }
}
