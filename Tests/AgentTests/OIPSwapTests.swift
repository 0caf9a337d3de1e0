import Core
import Synchronization
import Testing

@testable import Agent

#if canImport(Glibc)
    import Glibc
#endif

@Suite("OIP version swap")
struct OIPSwapTests {
    /// Answers so far, and whether the swap happened, shared by the client tasks.
    final class Progress: Sendable {
        let answered = Atomic<Int>(0)
        let swapped = Atomic<Bool>(false)
    }

    @Test("a swap during traffic: every response comes from exactly one version, and no client sees version 1 after version 2")
    func swapDuringTraffic() async throws {
        let registry = ModelRegistry(metrics: ServingMetrics())
        try registry.load(OIPFixtures.digitsModel, name: "digits", version: "1")
        try registry.load(OIPFixtures.digitsModelB, name: "digits", version: "2", activate: false)
        let clients = 6
        let perClient = 40
        let rows = 2
        // Each client sends its own pixels; the answer must be one version's prediction, whole.
        let pixels = (0..<clients).map { OIPFixtures.pixels(rows: rows, from: $0 * rows) }
        let expectedA = pixels.map { OIPFixtures.corePrediction(OIPFixtures.digitsModel, pixels: $0).scalars }
        let expectedB = pixels.map { OIPFixtures.corePrediction(OIPFixtures.digitsModelB, pixels: $0).scalars }
        let progress = Progress()
        try await withOIPServer(registry: registry) { _, port in
            let sequences = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
                for c in 0..<clients {
                    group.addTask {
                        try await offPool {
                            let client = try OIPHTTPClient(port: port)
                            var versions: [String] = []
                            for i in 0..<perClient {
                                // Half way, wait for the swap: the second halves all run after it.
                                if i == perClient / 2 { while !progress.swapped.load(ordering: .acquiring) { usleep(500) } }
                                let response = try client.request(
                                    "POST", "/v2/models/digits/infer", json: OIPBodies.json(pixels: pixels[c]))
                                let version = response.json?["model_version"] as? String ?? "?"
                                let values = response.floats("probabilities")
                                let matches =
                                    version == "1" ? values == expectedA[c] : version == "2" ? values == expectedB[c] : false
                                versions.append(matches ? version : "mixed:\(version)")
                                progress.answered.add(1, ordering: .relaxed)
                            }
                            return (c, versions)
                        }
                    }
                }
                group.addTask {
                    // Swap once a third of the traffic has been answered; the rest comes after.
                    while progress.answered.load(ordering: .relaxed) < clients * perClient / 3 { try await Task.sleep(for: .milliseconds(1)) }
                    try registry.activate(name: "digits", version: "2")
                    progress.swapped.store(true, ordering: .releasing)
                    return (-1, [])
                }
                var all: [Int: [String]] = [:]
                for try await (c, versions) in group where c >= 0 { all[c] = versions }
                return all
            }
            for c in 0..<clients {
                let versions = try #require(sequences[c])
                #expect(versions.allSatisfy { $0 == "1" || $0 == "2" }, "client \(c): \(versions)")
                // Sequential requests: once version 2 answers, version 1 never answers again.
                if let firstB = versions.firstIndex(of: "2") {
                    #expect(!versions[firstB...].contains("1"), "client \(c): \(versions)")
                }
                #expect(
                    versions[(perClient / 2)...].allSatisfy { $0 == "2" }, "client \(c): requests after the swap get version 2")
            }
            let before = sequences.values.reduce(0) { $0 + $1.filter { $0 == "1" }.count }
            #expect(before >= clients * perClient / 3, "the first third of the answers came before the swap")
        }
    }
}
