import Core
import Agent
import Foundation
import Testing

@Suite("Firmware profiles")
struct FirmwareProfileTests {
    /// The repository's `firmware-profiles/` folder.
    static let directory: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/AgentTests/FirmwareProfileTests.swift
        return parts.joined(separator: "/") + "/firmware-profiles"
    }()

    static let required = ["raspberry-pi-4", "raspberry-pi-zero-2w", "jetson-orin-nano", "x86-64-gateway", "x86-64-avx512"]

    @Test("every shipped profile loads and validates", arguments: required)
    func loads(_ name: String) throws {
        let profile = try FirmwareProfile.load(named: name, from: Self.directory)
        #expect(profile.name == name)
        #expect(profile.largestModelBytes <= profile.memoryBudgetMegabytes << 20)
        if profile.network.metered { #expect((profile.network.dailyByteBudget ?? 0) > 0) }
    }

    @Test("no other files hide in the folder")
    func onlyProfiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory).sorted()
        #expect(files == Self.required.map { $0 + ".json" }.sorted())
    }

    @Test("a model over the profile's largest model is refused; the budget never exceeds the profile's")
    func enforcement() throws {
        let zero = try FirmwareProfile.load(named: "raspberry-pi-zero-2w", from: Self.directory)
        try zero.checkModelSize(16 << 20, name: "ok")
        let error = try #require(throws: ConfigurationError.self) { try zero.checkModelSize((16 << 20) + 1, name: "big") }
        #expect(error.code == .profileViolation)
        #expect(error.message.contains("raspberry-pi-zero-2w"))
        #expect(try zero.effectiveStorageBudget(configured: nil) == 256 << 20)
        #expect(try zero.effectiveStorageBudget(configured: 100 << 20) == 100 << 20)
        #expect(throws: ConfigurationError.self) { try zero.effectiveStorageBudget(configured: 300 << 20) }
    }

    @Test("the training policy: idle and mains power rules")
    func trainingPolicy() throws {
        let zero = try FirmwareProfile.load(named: "raspberry-pi-zero-2w", from: Self.directory)
        #expect(zero.mayTrain(serviceIdle: true, onMainsPower: true))
        #expect(!zero.mayTrain(serviceIdle: false, onMainsPower: true))
        #expect(!zero.mayTrain(serviceIdle: true, onMainsPower: false))
        var jetson = try FirmwareProfile.load(named: "jetson-orin-nano", from: Self.directory)
        #expect(jetson.mayTrain(serviceIdle: false, onMainsPower: false))
        jetson.training.allowed = false
        #expect(!jetson.mayTrain(serviceIdle: true, onMainsPower: true))
    }

    @Test("the host check: an ARM profile never matches an x86-64 machine and vice versa")
    func hostCheck() throws {
        let pi = try FirmwareProfile.load(named: "raspberry-pi-4", from: Self.directory)
        let gateway = try FirmwareProfile.load(named: "x86-64-gateway", from: Self.directory)
        #if arch(x86_64)
        #expect(pi.mismatchesWithHost().contains { $0.contains("aarch64") })
        #expect(!gateway.mismatchesWithHost().contains { $0.contains("architecture") || $0.contains("x86_64, this") })
        #else
        #expect(gateway.mismatchesWithHost().contains { $0.contains("x86_64") })
        #expect(pi.mismatchesWithHost().isEmpty)
        #endif
    }

    @Test("unknown names, bad files and bad values are refused with the reason")
    func refusals() throws {
        let scratch = ScratchDirectory()
        let unknown = try #require(throws: ConfigurationError.self) { try FirmwareProfile.load(named: "toaster", from: Self.directory) }
        #expect(unknown.message.contains("raspberry-pi-4"), "the error lists the known profiles")
        var profile = try FirmwareProfile.load(named: "x86-64-gateway", from: Self.directory)
        profile.name = "bad"
        profile.simd.append("avx1024")
        let encoder = JSONEncoder()
        _ = scratch.write("bad.json", String(decoding: try encoder.encode(profile), as: UTF8.self))
        let simd = try #require(throws: ConfigurationError.self) { try FirmwareProfile.load(named: "bad", from: scratch.path) }
        #expect(simd.message.contains("avx1024"))
        _ = scratch.write("broken.json", #"{"name": "broken", "architecture": "x86_64"}"#)
        let broken = try #require(throws: ConfigurationError.self) { try FirmwareProfile.load(named: "broken", from: scratch.path) }
        #expect(broken.code == .malformed)
        #expect(broken.message.contains("missing field"))
        _ = scratch.write("alias.json", String(decoding: try encoder.encode(try FirmwareProfile.load(named: "x86-64-gateway", from: Self.directory)), as: UTF8.self))
        let alias = try #require(throws: ConfigurationError.self) { try FirmwareProfile.load(named: "alias", from: scratch.path) }
        #expect(alias.message.contains("names itself"))
    }
}
