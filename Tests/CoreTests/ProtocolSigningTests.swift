import Core
import Crypto
import Foundation
import Testing

/// Signed control messages: what is verified is what is used; any change to the signed content
/// fails; formatting does not matter; a newer signer's extra fields are covered.
@Suite struct ProtocolSigningTests {
    let key = ProtocolSamples.hubKey
    let sample = ProtocolSamples.assignment

    func signed() throws -> SignedMessage<Assignment> {
        try SignedMessage(signing: sample, with: key)
    }

    /// The wire JSON as a dictionary, to tamper with.
    func wireObject() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(signed().encoded())) as! [String: Any]
    }

    func badSignature(_ payload: [UInt8]) -> Bool {
        do {
            _ = try SignedMessage<Assignment>(decoding: payload).verified(with: key.publicKey)
            return false
        } catch {
            return error.code == .badSignature
        }
    }

    @Test func roundTripVerifies() throws {
        let wire = try signed().encoded()
        let parsed = try SignedMessage<Assignment>(decoding: wire)
        #expect(parsed.keyId == sample.keyId)
        #expect(try parsed.verified(with: key.publicKey) == sample)
        #expect(parsed.signature.count == 64)
    }

    @Test func signedBytesAreTheCanonicalFormWithoutTheSignature() throws {
        let text = String(decoding: try signed().signedBytes, as: UTF8.self)
        #expect(text.hasPrefix("{\"allowDowngrade\":false,\"device\":\"pi-7\",\"expiresAt\":"))
        #expect(!text.contains("signature") && !text.contains(" "))
        #expect(text.contains("\"v\":1"))
    }

    @Test func anyChangedFieldFailsVerification() throws {
        let changes: [(String, Any)] = [
            ("modelVersion", "1.3.1"), ("device", "pi-8"), ("expiresAt", 9_999_999_999_999), ("allowDowngrade", true),
            ("keyId", "0000000000000000"), ("id", "assign-0006"),
        ]
        for (field, value) in changes {
            var json = try wireObject()
            json[field] = value
            #expect(badSignature(Array(try JSONSerialization.data(withJSONObject: json))), "\(field)")
        }
    }

    @Test func addedOrRemovedFieldsFailVerification() throws {
        var json = try wireObject()
        json["note"] = "injected"
        #expect(badSignature(Array(try JSONSerialization.data(withJSONObject: json))))
        json = try wireObject()
        json["rolloutId"] = nil
        #expect(badSignature(Array(try JSONSerialization.data(withJSONObject: json))))
    }

    @Test func formattingDoesNotMatter() throws {
        let json = try wireObject()
        let pretty = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted])
        let parsed = try SignedMessage<Assignment>(decoding: Array(pretty))
        #expect(try parsed.verified(with: key.publicKey) == sample)
        #expect(parsed.encoded() == (try signed().encoded()))
    }

    @Test func newerSignersExtraFieldsAreCoveredAndIgnored() throws {
        // A newer hub adds `priority`; canonical order puts it between packageSize and rolloutId.
        let text = String(decoding: try signed().signedBytes, as: UTF8.self)
        let body = Array(text.replacingOccurrences(of: "\"rolloutId\"", with: "\"priority\":3,\"rolloutId\"").utf8)
        let signature = Data(try key.signature(for: body)).base64EncodedString()
        let wire = String(decoding: body, as: UTF8.self)
            .replacingOccurrences(of: "\"time\"", with: "\"signature\":\"\(signature)\",\"time\"")
        let parsed = try SignedMessage<Assignment>(decoding: Array(wire.utf8))
        #expect(parsed.signedBytes == body)
        #expect(try parsed.verified(with: key.publicKey) == sample)
        #expect(parsed.encoded() == Array(wire.utf8))
    }

    @Test func duplicateKeysCannotSmuggleAValue() throws {
        let wire = String(decoding: try signed().encoded(), as: UTF8.self)
        for forged in [
            wire.replacingOccurrences(of: "{", with: "{\"modelVersion\":\"9.9.9\","),
            wire.replacingOccurrences(of: "\"v\":1}", with: "\"v\":1,\"modelVersion\":\"9.9.9\"}"),
        ] {
            // Whichever copy the parser keeps, what verifies is exactly what is used.
            if let parsed = try? SignedMessage<Assignment>(decoding: Array(forged.utf8)),
                let message = try? parsed.verified(with: key.publicKey)
            {
                #expect(message == sample)
            }
        }
    }

    @Test func wrongKeyFails() throws {
        let other = Curve25519.Signing.PrivateKey()
        let error = #expect(throws: ProtocolError.self) { try signed().verified(with: other.publicKey) }
        #expect(error?.code == .badSignature)
    }

    @Test func missingOrMalformedSignaturesAreRefused() throws {
        var json = try wireObject()
        json["signature"] = nil
        #expect(badSignature(Array(try JSONSerialization.data(withJSONObject: json))))
        for bad: Any in ["not base64!", Data(count: 63).base64EncodedString(), 42] {
            json["signature"] = bad
            #expect(badSignature(Array(try JSONSerialization.data(withJSONObject: json))))
        }
    }

    @Test func fractionalNumbersCannotBeSigned() throws {
        var json = try wireObject()
        json["packageSize"] = 1.5
        #expect(throws: ProtocolError.self) {
            try SignedMessage<Assignment>(decoding: Array(try JSONSerialization.data(withJSONObject: json)))
        }
    }

    @Test func malformedSignedPayloads() {
        for text in ["", "[]", "{\"signature\":", "null"] {
            #expect(throws: ProtocolError.self) { try SignedMessage<Assignment>(decoding: Array(text.utf8)) }
        }
        let big = [UInt8](repeating: 0x20, count: 100)
        #expect(throws: ProtocolError.self) { try SignedMessage<Assignment>(decoding: big, maxBytes: 99) }
    }

    @Test func verificationCanBeDelegatedToATrustRing() throws {
        struct Unknown: Error {}
        let message = try signed()
        let publicKey = key.publicKey
        let ok = try message.verified { (signature, keyId, bytes) throws(Unknown) in
            guard keyId == "3f9a0c7e21b45d68", publicKey.isValidSignature(signature, for: bytes) else { throw Unknown() }
        }
        #expect(ok == sample)
        #expect(throws: Unknown.self) { try message.verified { (_, _, _) throws(Unknown) in throw Unknown() } }
    }

    @Test func applicabilityChecks() throws {
        let now = sample.time + 1000
        try sample.check(for: ProtocolSamples.device, now: now)
        let late = #expect(throws: ProtocolError.self) { try sample.check(for: ProtocolSamples.device, now: sample.expiresAt) }
        #expect(late?.code == .expired)
        let early = #expect(throws: ProtocolError.self) {
            try sample.check(for: ProtocolSamples.device, now: sample.time - Assignment.maxClockSkewMs - 1)
        }
        #expect(early?.code == .expired)
        let elsewhere = #expect(throws: ProtocolError.self) { try sample.check(for: DeviceID("pi-8"), now: now) }
        #expect(elsewhere?.code == .wrongDevice)
    }
}
