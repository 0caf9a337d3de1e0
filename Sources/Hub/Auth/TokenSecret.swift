import Crypto

/// The text form of API tokens and how they are hashed and compared.
///
/// A token is `stk_<id>_<secret>`: `id` is 16 hex digits (8 random bytes), public and used to
/// find the row; `secret` is 32 random bytes in unpadded base64url. The hub stores SHA-256 of
/// the whole text, never the text. With 256 random bits a plain hash suffices: there is no
/// password to guess, so no salt or slow key derivation is needed (decision 0010).
enum TokenSecret {
    /// What every token starts with (so secret scanners can recognise one).
    static let prefix = "stk_"
    /// Length of the id in hex digits.
    static let idLength = 16
    /// Random bytes in the secret part.
    static let secretBytes = 32
    /// Length of the whole text: prefix, id, separator, 43 base64url characters.
    static let textLength = 4 + 16 + 1 + 43

    /// A new random token: its id and full text.
    static func generate() -> (id: String, text: String) {
        var random = SystemRandomNumberGenerator()
        let idBytes = (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) }
        let secret = (0..<secretBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
        let id = hex(idBytes)
        return (id, prefix + id + "_" + base64url(secret))
    }

    /// The id in a well-formed token text; nil when the text is not a Starling token.
    static func id(of text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == textLength, text.hasPrefix(prefix), bytes[4 + idLength] == UInt8(ascii: "_") else { return nil }
        let id = bytes[4..<(4 + idLength)]
        let secret = bytes[(5 + idLength)...]
        guard id.allSatisfy(isLowerHex), secret.allSatisfy(isBase64url) else { return nil }
        return String(decoding: id, as: UTF8.self)
    }

    /// SHA-256 of the token text: what the store keeps.
    static func hash(_ text: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// Compares two byte strings in time that depends only on their lengths, not on where they differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    // MARK: - Encoding

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }

    private static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * offset) }
            for position in 0...chunk.count { out.append(alphabet[Int((value >> (18 - 6 * position)) & 63)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102)
    }

    private static func isBase64url(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 95
    }
}
