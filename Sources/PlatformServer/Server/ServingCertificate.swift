import Foundation
import NIOSSL
import RPCRuntime

/// The PEM files `--tls-cert` and `--tls-key` name, loaded at start as the gRPC transport loads
/// them when it begins to listen, but before the store is opened. A file that is missing or not
/// PEM, or a key that is not the certificate's, then stops the start naming the option, the file
/// and what is wrong with it, with nothing seeded and no spctl context written, where the
/// transport would report only that it "couldn't create SSL context".
enum ServingCertificate {
    static func check(_ files: RPCServer.TLSFiles) throws {
        let chain = try load(files.certificateChainPath, option: "--tls-cert", holding: "a PEM certificate chain") {
            try NIOSSLCertificate.fromPEMBytes($0)
        }
        let key = try load(files.privateKeyPath, option: "--tls-key", holding: "a PEM private key without a passphrase") {
            try NIOSSLPrivateKey(bytes: $0, format: .pem)
        }
        do {
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: chain.map(NIOSSLCertificateSource.certificate), privateKey: .privateKey(key)))
        } catch {
            throw ServingCertificateError(
                "--tls-cert \(files.certificateChainPath) and --tls-key \(files.privateKeyPath) cannot serve TLS together (is the key the certificate's?): \(error)")
        }
    }

    private static func load<Loaded>(_ path: String, option: String, holding content: String, _ parse: ([UInt8]) throws -> Loaded) throws -> Loaded {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ServingCertificateError("\(option) \(path) cannot be read: no such file")
        }
        guard !isDirectory.boolValue else {
            throw ServingCertificateError("\(option) \(path) cannot be read: it is a directory")
        }
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ServingCertificateError("\(option) \(path) cannot be read: \(error.localizedDescription)")
        }
        do {
            return try parse(Array(contents))
        } catch {
            throw ServingCertificateError("\(option) \(path) does not hold \(content)")
        }
    }
}

public struct ServingCertificateError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
