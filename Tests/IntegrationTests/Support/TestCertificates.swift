/// A throwaway certificate authority with a server certificate for 127.0.0.1/localhost and a
/// client certificate, made with the `openssl` command in a test's directory.
struct TestCertificates {
    /// The CA certificate clients and the broker trust.
    let caFile: String
    /// The broker's certificate (SAN: DNS localhost, IP 127.0.0.1) and key.
    let serverCertificate: String
    let serverKey: String
    /// A client certificate signed by the CA, and its key.
    let clientCertificate: String
    let clientKey: String
    /// A CA that signed nothing here: trusting it must fail the handshake.
    let otherCAFile: String

    /// Creates all files in `directory`.
    init(in directory: String) throws {
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let d = directory
        func req(_ name: String, _ subject: String) throws {
            try runCommand(["openssl", "req"] + ec + ["-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr", "-subj", subject])
        }
        func sign(_ name: String, _ extensions: String) throws {
            try writeText(extensions + "\n", to: "\(directory)/\(name).ext")
            try runCommand(
                [
                    "openssl", "x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/ca.crt", "-CAkey", "\(d)/ca.key",
                    "-CAcreateserial", "-out", "\(d)/\(name).crt", "-days", "2", "-extfile", "\(d)/\(name).ext",
                ])
        }
        for ca in ["ca", "other-ca"] {
            try runCommand(
                ["openssl", "req", "-x509"] + ec + ["-keyout", "\(d)/\(ca).key", "-out", "\(d)/\(ca).crt", "-days", "2"]
                    + ["-subj", "/CN=Starling test \(ca)"])
        }
        try req("server", "/CN=localhost")
        try sign("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
        try req("client", "/CN=device-a")
        try sign("client", "extendedKeyUsage=clientAuth")
        caFile = "\(directory)/ca.crt"
        serverCertificate = "\(directory)/server.crt"
        serverKey = "\(directory)/server.key"
        clientCertificate = "\(directory)/client.crt"
        clientKey = "\(directory)/client.key"
        otherCAFile = "\(directory)/other-ca.crt"
    }
}
