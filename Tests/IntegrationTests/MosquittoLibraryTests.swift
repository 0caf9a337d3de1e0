import Testing

@testable import TransportMQTT

@Suite("libmosquitto")
struct MosquittoLibraryTests {
    @Test("the linked libmosquitto speaks MQTT 5 (version 2 or newer)")
    func version() {
        #expect(Mosquitto.libraryVersion.major >= 2)
    }
}
