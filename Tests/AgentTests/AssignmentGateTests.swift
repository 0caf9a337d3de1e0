import Core
import Foundation
import Testing

@testable import Agent

@Suite("Assignment gate")
struct AssignmentGateTests {
    static let now: Int64 = 1_800_000_000_000
    static let device = try! DeviceID("dev-1")
    static let gate = AssignmentGate(device: device, trust: try! TrustRing(keys: [InstallFixture.key.publicKey]))

    static func signed(
        _ id: String, version: String = "1.1.0", issued: Int64 = now, device: String = "dev-1", expires: Int64? = nil,
        allowDowngrade: Bool = false, key: SigningKey = InstallFixture.key
    ) -> [UInt8] {
        let assignment = Assignment(
            id: id, time: issued, device: try! DeviceID(device), modelName: try! ModelName("digits"), modelVersion: version,
            packageId: String(repeating: "a", count: 64), packageSize: 100, expiresAt: expires ?? issued + 60_000,
            allowDowngrade: allowDowngrade, keyId: key.keyId)
        return try! SignedMessage(signing: assignment, with: key.privateKey).encoded()
    }

    func decide(_ payload: [UInt8], store: AgentStore, active: String? = "1.0.0") async -> AssignmentGate.Decision {
        await Self.gate.evaluate(payload, now: Self.now, store: store) { _ in active }
    }

    @Test("a signed assignment for this device is accepted once; its repeat and older ones are ignored")
    func acceptOnceThenIgnore() async throws {
        try await withStore { store, _ in
            guard case .accept(let plan) = await decide(Self.signed("as-1"), store: store) else {
                Issue.record("not accepted")
                return
            }
            #expect(plan.modelVersion == "1.1.0" && plan.previousVersion == "1.0.0")
            guard case .ignore = await decide(Self.signed("as-1"), store: store) else { _ = Issue.record("repeat not ignored"); return }
            guard case .ignore = await decide(Self.signed("as-0", version: "1.2.0", issued: Self.now - 1), store: store) else {
                _ = Issue.record("older assignment not ignored"); return
            }
            #expect((try? await store.assignmentOutcome(id: "as-1")) == .accepted)
        }
    }

    /// Payloads refused, with the error kind and a word the reason must contain.
    static let refusals: [(String, [UInt8], DeviceEvent.ErrorKind, String)] = [
        ("unsigned", Array(#"{"v":1,"id":"x"}"#.utf8), .verificationFailed, "not signed"),
        ("unknown key", signed("as-r", key: InstallFixture.rogue), .verificationFailed, "trust"),
        ("another device", signed("as-d", device: "dev-2"), .protocolFailed, "dev-2"),
        ("expired", signed("as-e", issued: now - 120_000, expires: now - 1), .protocolFailed, "expired"),
        ("downgrade", signed("as-g", version: "0.9.0"), .downgradeRefused, "0.9.0"),
        ("not JSON", Array("garbage".utf8), .protocolFailed, "JSON"),
    ]

    @Test("refused: unsigned, unknown key, another device, expired, a downgrade without a rollback order, garbage", arguments: 0..<refusals.count)
    func refused(index: Int) async throws {
        let (_, payload, kind, word) = Self.refusals[index]
        try await withStore { store, _ in
            guard case .refuse(let failure) = await decide(payload, store: store) else {
                _ = Issue.record("\(Self.refusals[index].0) was not refused"); return
            }
            #expect(failure.kind == kind)
            #expect(failure.reason.contains(word), "\(failure.reason)")
        }
    }

    @Test("the version already serving is ignored; a signed rollback order may downgrade")
    func sameVersionAndRollback() async throws {
        try await withStore { store, _ in
            guard case .ignore = await decide(Self.signed("as-s", version: "1.0.0"), store: store) else {
                _ = Issue.record("same version not ignored"); return
            }
            guard case .accept(let plan) = await decide(Self.signed("as-b", version: "0.9.0", allowDowngrade: true), store: store) else {
                _ = Issue.record("rollback order not accepted"); return
            }
            #expect(plan.modelVersion == "0.9.0")
        }
    }

    @Test("a rollback order to the serving version is accepted while another version is on its way, then ignored")
    func rollbackWhileHeadedElsewhere() async throws {
        try await withStore { store, _ in
            // 2.0.0 is accepted: installing (or queued) while 1.0.0 still serves.
            guard case .accept = await decide(Self.signed("as-2", version: "2.0.0"), store: store) else {
                _ = Issue.record("2.0.0 not accepted"); return
            }
            // Only a signed rollback order may turn the device back from 2.0.0.
            guard case .ignore = await decide(Self.signed("as-p", version: "1.0.0", issued: Self.now + 1), store: store) else {
                _ = Issue.record("a plain assignment turned back an update"); return
            }
            let order = Self.signed("as-r", version: "1.0.0", issued: Self.now + 2, allowDowngrade: true)
            guard case .accept(let plan) = await decide(order, store: store) else {
                _ = Issue.record("the rollback order was dropped as already serving"); return
            }
            #expect(plan.modelVersion == "1.0.0" && plan.previousVersion == "1.0.0")
            // Headed to 1.0.0 now, which serves: a resent order is a repeat.
            let resent = Self.signed("as-r2", version: "1.0.0", issued: Self.now + 3, allowDowngrade: true)
            guard case .ignore = await decide(resent, store: store) else {
                _ = Issue.record("a resent rollback order was accepted again"); return
            }
        }
    }
}
