import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A control message that travels signed (assignments, FL updates).
public protocol SignedControlMessage: ControlMessage {
    /// The id of the key that signs it (the trust ring's key id); covered by the signature.
    var keyId: String { get }
}

/// A signed control message: the message's JSON object plus a detached Ed25519 `signature`.
///
/// Canonical form (what is signed): the message's JSON object, including `v`, `id`, `time` and
/// `keyId` but without `signature`, written as `CanonicalJSON` (keys sorted by UTF-8 bytes, no
/// whitespace, integers only, minimal string escapes). The wire form is the same canonical JSON
/// with `"signature": <base64 of the 64-byte signature>` added. Signed schemas therefore carry
/// no fractional numbers.
///
/// A receiver verifies the canonical bytes recomputed from what arrived (so fields added by a
/// newer sender are covered too), then decodes the message from exactly those bytes: what was
/// verified is what is used.
public struct SignedMessage<M: SignedControlMessage>: Sendable, Equatable {
    /// The message as parsed; not to be trusted before `verified(with:)` succeeds.
    public let unverified: M
    /// The canonical bytes the signature covers.
    public let signedBytes: [UInt8]
    /// The detached Ed25519 signature (64 bytes).
    public let signature: [UInt8]
    private let object: [String: CanonicalJSON]

    /// The id of the key the message claims to be signed with (look it up, then verify).
    public var keyId: String { unverified.keyId }

    /// Signs `message` with `key` (whose key id must be `message.keyId`).
    public init(signing message: M, with key: Curve25519.Signing.PrivateKey) throws(ProtocolError) {
        var object = try Self.parseObject(try MessageCodec.encode(message))
        object["signature"] = nil
        let bytes = CanonicalJSON.object(object).bytes
        let signature: [UInt8]
        do {
            signature = Array(try key.signature(for: bytes))
        } catch {
            throw ProtocolError(.badSignature, "\(M.schema) message could not be signed: \(error)")
        }
        unverified = try MessageCodec.decode(M.self, from: bytes)
        signedBytes = bytes
        self.signature = signature
        self.object = object
    }

    /// Parses a signed message from the wire without verifying it.
    public init(decoding payload: [UInt8], maxBytes: Int = MessageCodec.maxMessageBytes) throws(ProtocolError) {
        guard payload.count <= maxBytes else {
            throw ProtocolError(.tooLarge, "\(M.schema) message is \(payload.count) bytes; the limit is \(maxBytes)")
        }
        var object = try Self.parseObject(payload)
        guard let field = object.removeValue(forKey: "signature") else {
            throw ProtocolError(.badSignature, "\(M.schema) message is not signed (no 'signature' field)")
        }
        guard case .string(let text) = field, let raw = Data(base64Encoded: text), raw.count == 64 else {
            throw ProtocolError(.badSignature, "\(M.schema) message: 'signature' is not a base64 Ed25519 signature (64 bytes)")
        }
        let bytes = CanonicalJSON.object(object).bytes
        unverified = try MessageCodec.decode(M.self, from: bytes, maxBytes: maxBytes)
        signedBytes = bytes
        signature = Array(raw)
        self.object = object
    }

    /// The wire bytes: canonical JSON with the `signature` field.
    public func encoded() -> [UInt8] {
        var withSignature = object
        withSignature["signature"] = .string(Data(signature).base64EncodedString())
        return CanonicalJSON.object(withSignature).bytes
    }

    /// The message, if the signature verifies with `key`; `badSignature` otherwise.
    public func verified(with key: Curve25519.Signing.PublicKey) throws(ProtocolError) -> M {
        guard key.isValidSignature(signature, for: signedBytes) else {
            throw ProtocolError(
                .badSignature,
                "\(M.schema) message \(unverified.id) does not verify with key \(keyId); it was altered or signed by another key")
        }
        return unverified
    }

    /// The message, if `verify` accepts the signature (for example `TrustRing.verify`, which also
    /// refuses unknown and revoked keys); `verify` throws to refuse.
    public func verified<E: Error>(
        by verify: (_ signature: [UInt8], _ keyId: String, _ signedBytes: [UInt8]) throws(E) -> Void
    ) throws(E) -> M {
        try verify(signature, keyId, signedBytes)
        return unverified
    }

    // MARK: - Parsing

    private static func parseObject(_ payload: [UInt8]) throws(ProtocolError) -> [String: CanonicalJSON] {
        let node: SignedJSONNode
        do {
            node = try JSONDecoder().decode(SignedJSONNode.self, from: Data(payload))
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                throw ProtocolError(.malformed, "\(M.schema) message is not valid JSON (\(context.debugDescription))")
            default:
                throw ProtocolError(
                    .invalidValue,
                    "\(M.schema) message has a value a signed message cannot carry (only strings, integers, booleans, null, arrays, objects)"
                )
            }
        } catch {
            throw ProtocolError(.malformed, "\(M.schema) message is not valid JSON: \(error)")
        }
        guard case .object(let object) = node.value else {
            throw ProtocolError(.malformed, "\(M.schema) message is not a JSON object")
        }
        return object
    }
}

/// A JSON value read into `CanonicalJSON`; fractional or out-of-range numbers are refused.
private struct SignedJSONNode: Decodable {
    var value: CanonicalJSON

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var values: [CanonicalJSON] = []
            while !array.isAtEnd { values.append(try array.decode(SignedJSONNode.self).value) }
            value = .array(values)
            return
        }
        if let object = try? decoder.container(keyedBy: SignedJSONKey.self) {
            var members: [String: CanonicalJSON] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(SignedJSONNode.self, forKey: key).value }
            value = .object(members)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            value = .null
        } else if let bool = try? single.decode(Bool.self) {
            value = .bool(bool)
        } else if let int = try? single.decode(Int.self) {
            value = .int(int)
        } else {
            value = .string(try single.decode(String.self))
        }
    }
}

private struct SignedJSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
