import RPCRuntime
import Testing

@Suite("resource names")
struct ResourceNameTests {
    @Test("the id follows its collection, even when the tenant's id is that collection's name", arguments: [
        ("tenants/acme/apiKeys/k3x9", "apiKeys", "k3x9"),
        ("tenants/exports/exports/e1", "exports", "e1"),
        ("tenants/calls/calls/CA1", "calls", "CA1"),
        ("tenants/customers/customers/jane", "customers", "jane"),
        ("impersonationSessions/s7f2", "impersonationSessions", "s7f2"),
    ])
    func id(name: String, collection: String, id: String) {
        #expect(ResourceName.id(of: name, after: collection) == id)
    }

    @Test("a name without the collection, or without an id after it, has none", arguments: [
        ("tenants/exports", "exports"), ("tenants/acme/exports/", "exports"), ("tenants/acme/calls/c1", "exports"), ("", "exports"),
    ])
    func none(name: String, collection: String) {
        #expect(ResourceName.id(of: name, after: collection) == nil)
    }
}
