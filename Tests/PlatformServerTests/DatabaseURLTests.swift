@testable import PlatformServer
import Testing

/// PostgreSQL URLs read as libpq reads them, so a URL that works with psql means the same here.
@Suite("Database URL")
struct DatabaseURLTests {
    @Test("host, port, user, password and database, with libpq's defaults")
    func parts() throws {
        let url = try DatabaseURL("postgres://app:s3cret@db.internal:6432/servicepro")
        #expect(url.host == "db.internal")
        #expect(url.port == 6432)
        #expect(url.username == "app")
        #expect(url.password == "s3cret")
        #expect(url.database == "servicepro")
        #expect(url.tlsMode == .prefer, "TLS when the server offers it, as libpq does")
        #expect(url.rootCertificatePath == nil)

        let bare = try DatabaseURL("postgresql://db.internal")
        #expect(bare.port == 5432)
        #expect(bare.username == "postgres")
        #expect(bare.password == nil)
        #expect(bare.database == nil)
    }

    @Test("every sslmode libpq knows, and the certificate authority to trust", arguments: DatabaseURL.TLSMode.allCases)
    func tlsModes(mode: DatabaseURL.TLSMode) throws {
        let url = try DatabaseURL("postgres://app@db.internal/servicepro?sslmode=\(mode.rawValue)&sslrootcert=/etc/ssl/rds.pem")
        #expect(url.tlsMode == mode)
        #expect(url.rootCertificatePath == "/etc/ssl/rds.pem")
    }

    @Test("an unknown sslmode is refused rather than read as no TLS, and errors never show the password")
    func refusals() {
        let unknownMode = #expect(throws: DatabaseURLError.self) { try DatabaseURL("postgres://app:s3cret@db/servicepro?sslmode=verify_full") }
        #expect(unknownMode?.description.contains("verify-full") == true, "lists the modes there are")
        #expect(unknownMode?.description.contains("s3cret") == false)
        // A password with an unescaped `#` makes the URL unreadable; the error still hides it.
        let unreadable = #expect(throws: DatabaseURLError.self) { try DatabaseURL("postgres://app:pa#ss@word@db/servicepro") }
        #expect(unreadable?.description.contains("pa#ss") == false)
        #expect(unreadable?.description.contains("postgres://app:***@db/servicepro") == true)
        #expect(throws: DatabaseURLError.self) { try DatabaseURL("mysql://app@db/servicepro") }
    }
}
