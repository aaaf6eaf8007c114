import Foundation
import GRPCCore
@testable import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

/// Customers, appointments and invoices end to end over gRPC, on every store.
@Suite("Operations")
struct OperationsTests {
    /// A moment in 2030, in whole seconds: times are stored to the microsecond, so these compare
    /// exactly after a round trip.
    static let origin: Int64 = 1_900_000_000
    static let day: Int64 = 86_400

    static func time(_ seconds: Int64) -> Google_Protobuf_Timestamp { Google_Protobuf_Timestamp(seconds: seconds) }

    // MARK: Customers

    @Test("customers: create, get, list and update round trip", arguments: TestBackend.available)
    func customerRoundTrip(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let jane = try await ops.createCustomer(.with {
                $0.parent = "tenants/acme"
                $0.customerID = "jane"
                $0.customer = .with {
                    $0.name = "tenants/acme/customers/ignored"
                    $0.displayName = "  Jane Doe \n"
                    $0.phoneNumber = "+19185550101"
                    $0.email = "jane@example.com"
                    $0.notes = "Gate code 4711"
                    $0.externalID = "crm-1"
                    $0.etag = "ignored"
                }
            })
            #expect(jane.name == "tenants/acme/customers/jane")
            #expect(jane.displayName == "Jane Doe")
            #expect(jane.phoneNumber == "+19185550101")
            #expect(jane.email == "jane@example.com")
            #expect(jane.notes == "Gate code 4711")
            #expect(jane.externalID == "crm-1")
            #expect(jane.hasCreateTime && jane.hasUpdateTime)
            #expect(!jane.etag.isEmpty && jane.etag != "ignored")
            #expect(try await ops.getCustomer(jane.name) == jane)

            let bob = try await ops.customer("acme", "Bob Baker")
            let bobID = try #require(bob.name.split(separator: "/").last)
            #expect(bob.name.hasPrefix("tenants/acme/customers/"))
            #expect(bobID.allSatisfy { $0.isLowercase || $0.isNumber })
            #expect(bob.phoneNumber.isEmpty && bob.email.isEmpty && bob.externalID.isEmpty)
            let amy = try await ops.customer("acme", "Amy Adams")
            // By display name, whatever the order of creation.
            let listed = try await ops.listCustomers(.with { $0.parent = "tenants/acme" })
            #expect(listed.customers.map(\.name) == [amy.name, bob.name, jane.name])
            #expect(listed.nextPageToken.isEmpty)

            let renamed = try await ops.updateCustomer(.with {
                $0.name = jane.name
                $0.displayName = "Jane Smith"
                $0.notes = "New gate code 1234"
                $0.email = "ignored@example.com"
                $0.etag = jane.etag
            }, ["display_name", "notes"])
            #expect(renamed.displayName == "Jane Smith")
            #expect(renamed.notes == "New gate code 1234")
            #expect(renamed.email == jane.email, "fields outside the mask keep their values")
            #expect(renamed.phoneNumber == jane.phoneNumber && renamed.externalID == jane.externalID)
            #expect(renamed.etag != jane.etag)
            #expect(renamed.createTime == jane.createTime)
            #expect(try await ops.getCustomer(jane.name) == renamed)

            // Naming a field without a value clears it.
            let cleared = try await ops.updateCustomer(.with { $0.name = jane.name }, ["email", "external_id", "phone_number"])
            #expect(cleared.email.isEmpty && cleared.externalID.isEmpty && cleared.phoneNumber.isEmpty)
            #expect(cleared.displayName == "Jane Smith")

            // Fields outside the mask are ignored, checks included (AIP-134): a customer read,
            // edited in one field and sent back whole is not refused for another.
            let sentBack = try await ops.updateCustomer(.with {
                $0 = cleared; $0.notes = "Edited alone"; $0.phoneNumber = "918-555-0101"; $0.displayName = ""
            }, ["notes"])
            #expect(sentBack.notes == "Edited alone")
            #expect(sentBack.displayName == "Jane Smith" && sentBack.phoneNumber.isEmpty)
        }
    }

    @Test("customers: filters, and changes since a time, oldest change first", arguments: TestBackend.available)
    func customerFilters(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(platform.ownerToken)
            let jane = try await ops.createCustomer(.with {
                $0.parent = "tenants/acme"
                $0.customer = .with {
                    $0.displayName = "Jane Doe"; $0.phoneNumber = "+19185550101"; $0.email = "Jane@Example.com"; $0.externalID = "crm-1"
                }
            })
            let bob = try await ops.customer("acme", "Bob Baker", phone: "+19185550102")
            let amy = try await ops.customer("acme", "Amy Adams")

            let byNumber = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.phoneNumber = "+19185550102" })
            #expect(byNumber.customers.map(\.name) == [bob.name])
            let byEmail = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.email = "jane@example.com" })
            #expect(byEmail.customers.map(\.name) == [jane.name], "emails match whatever their case")
            let byExternalID = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.externalID = "crm-1" })
            #expect(byExternalID.customers.map(\.name) == [jane.name])
            let padded = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.externalID = "crm-1 "; $0.phoneNumber = " +19185550101" })
            #expect(padded.customers.map(\.name) == [jane.name], "filters are trimmed as the stored values were")
            let nobody = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.externalID = "crm-1"; $0.phoneNumber = "+19185550102" })
            #expect(nobody.customers.isEmpty, "filters combine with AND")

            try await Task.sleep(for: .milliseconds(20))
            let since = Date()
            try await Task.sleep(for: .milliseconds(5))
            _ = try await ops.updateCustomer(.with { $0.name = bob.name; $0.notes = "Changed first" }, ["notes"])
            _ = try await ops.updateCustomer(.with { $0.name = amy.name; $0.notes = "Changed second" }, ["notes"])
            let changed = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.minUpdateTime = .init(date: since) })
            #expect(changed.customers.map(\.name) == [bob.name, amy.name])
            // A sync that pages resumes in the same order.
            let first = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.minUpdateTime = .init(date: since); $0.pageSize = 1 })
            #expect(first.customers.map(\.name) == [bob.name])
            let second = try await ops.listCustomers(.with {
                $0.parent = "tenants/acme"; $0.minUpdateTime = .init(date: since); $0.pageSize = 1; $0.pageToken = first.nextPageToken
            })
            #expect(second.customers.map(\.name) == [amy.name])
            #expect(second.nextPageToken.isEmpty)
        }
    }

    @Test("bad fields are INVALID_ARGUMENT naming the field, and nothing is created", arguments: TestBackend.available)
    func validation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(platform.ownerToken)
            let customerCases: [(CreateCustomerRequest, [String])] = [
                (.with { $0.parent = "tenants/acme"; $0.customer = .with { $0.phoneNumber = "+19185550101" } }, ["customer.display_name"]),
                (.with { $0.parent = "tenants/acme"; $0.customer = .with { $0.displayName = "   " } }, ["customer.display_name"]),
                (.with { $0.parent = "tenants/acme"; $0.customer = .with { $0.displayName = "Jane"; $0.phoneNumber = "918-555-0101" } }, ["customer.phone_number"]),
                (.with { $0.parent = "tenants/acme"; $0.customer = .with { $0.displayName = "Jane"; $0.email = "not an email" } }, ["customer.email"]),
                (.with { $0.parent = "tenants/acme"; $0.customerID = "Not_An_ID"; $0.customer = .with { $0.displayName = "Jane" } }, ["customer_id"]),
                (.with { $0.parent = "tenants/acme" }, ["customer"]),
            ]
            for (request, fields) in customerCases {
                let result = await failure { try await ops.createCustomer(request) }
                #expect(result?.code == .invalidArgument, "\(request)")
                #expect(result?.fields == fields, "\(request)")
            }
            #expect(try await ops.listCustomers(.with { $0.parent = "tenants/acme" }).customers.isEmpty)

            let jane = try await ops.customer("acme", "Jane Doe")
            let updateCases: [(UpdateCustomerRequest, [String])] = [
                (.with { $0.customer = .with { $0.name = jane.name; $0.etag = "\"7\"" }; $0.updateMask = .init(protoPaths: ["etag"]) }, ["update_mask"]),
                (.with { $0.customer = .with { $0.name = jane.name }; $0.updateMask = .init(protoPaths: []) }, ["update_mask"]),
                (.with { $0.customer = .with { $0.name = jane.name; $0.notes = "No mask" } }, ["update_mask"]),
                (.with { $0.customer = .with { $0.name = jane.name; $0.displayName = " " }; $0.updateMask = .init(protoPaths: ["display_name"]) }, ["customer.display_name"]),
                (.with { $0.customer = .with { $0.name = "tenants/acme/invoices/x" }; $0.updateMask = .init(protoPaths: ["notes"]) }, ["customer.name"]),
                // Only the masked field's check applies; the email is not being set.
                (.with {
                    $0.customer = .with { $0.name = jane.name; $0.phoneNumber = "918-555-0101"; $0.email = "not an email" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                }, ["customer.phone_number"]),
            ]
            for (request, fields) in updateCases {
                let result = await failure { try await ops.customers.updateCustomer(request, metadata: ops.metadata) }
                #expect(result?.code == .invalidArgument, "\(request)")
                #expect(result?.fields == fields, "\(request)")
            }
            #expect(try await ops.getCustomer(jane.name) == jane)

            let missing = await failure {
                try await ops.createAppointment(.with { $0.parent = "tenants/acme"; $0.appointment = .with { $0.notes = "Nothing else" } })
            }
            #expect(missing?.fields == ["appointment.customer", "appointment.service_name", "appointment.start_time"])
            let appointmentCases: [(Appointment, [String])] = [
                (.with { $0.customer = jane.name; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin); $0.duration = .init(seconds: -60) }, ["appointment.duration"]),
                (.with { $0.customer = jane.name; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin); $0.status = .UNRECOGNIZED(42) }, ["appointment.status"]),
                (.with { $0.customer = "customers/jane"; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin) }, ["appointment.customer"]),
                (.with { $0.customer = jane.name; $0.serviceName = "  "; $0.startTime = Self.time(Self.origin) }, ["appointment.service_name"]),
            ]
            for (appointment, fields) in appointmentCases {
                let result = await failure { try await ops.createAppointment(.with { $0.parent = "tenants/acme"; $0.appointment = appointment }) }
                #expect(result?.code == .invalidArgument, "\(appointment)")
                #expect(result?.fields == fields, "\(appointment)")
            }
            #expect(try await ops.listAppointments(.with { $0.parent = "tenants/acme" }).appointments.isEmpty)
            let appointment = try await ops.appointment(for: jane, at: Self.origin)
            let moveCustomer = await failure { try await ops.updateAppointment(.with { $0.name = appointment.name; $0.customer = jane.name }, ["customer"]) }
            #expect(moveCustomer?.fields == ["update_mask"])
            let unschedule = await failure { try await ops.updateAppointment(.with { $0.name = appointment.name }, ["start_time"]) }
            #expect(unschedule?.fields == ["appointment.start_time"])

            let line = InvoiceLine.with { $0.label = "Full detail"; $0.quantity = 1; $0.unitPriceCents = 15_000 }
            let invoiceCases: [(Invoice, [String])] = [
                (.with { $0.lines = [line] }, ["invoice.customer", "invoice.currency_code"]),
                (.with { $0.customer = jane.name; $0.currencyCode = "usd" }, ["invoice.currency_code"]),
                (.with { $0.customer = jane.name; $0.currencyCode = "ABC" }, ["invoice.currency_code"]),
                (.with {
                    $0.customer = jane.name; $0.currencyCode = "USD"
                    $0.lines = [
                        .with { $0.label = "Nothing"; $0.quantity = 0; $0.unitPriceCents = 100 },
                        .with { $0.label = "Refund"; $0.quantity = 1; $0.unitPriceCents = -100 },
                        line,
                    ]
                }, ["invoice.lines[0].quantity", "invoice.lines[1].unit_price_cents"]),
                (.with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.lines = [.with { $0.label = "  "; $0.quantity = 1 }] }, ["invoice.lines[0].label"]),
                (.with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.lines = [line]; $0.taxCents = -1 }, ["invoice.tax_cents"]),
                (.with {
                    $0.customer = jane.name; $0.currencyCode = "USD"
                    $0.lines = [.with { $0.label = "Yacht"; $0.quantity = 2; $0.unitPriceCents = Int64.max / 2 + 1 }]
                }, ["invoice.lines[0].unit_price_cents"]),
                (.with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.appointment = "tenants/acme/customers/jane" }, ["invoice.appointment"]),
            ]
            for (invoice, fields) in invoiceCases {
                let result = await failure { try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = invoice }) }
                #expect(result?.code == .invalidArgument, "\(invoice)")
                #expect(result?.fields == fields, "\(invoice)")
            }
            // Two hundred bad lines: the answer still arrives (its trailers fit what clients take),
            // naming the first lines and counting the rest, and the connection stays up.
            let manyBad = await failure {
                try await ops.createInvoice(.with {
                    $0.parent = "tenants/acme"
                    $0.invoice = .with {
                        $0.customer = jane.name; $0.currencyCode = "USD"
                        $0.lines = Array(repeating: .with { $0.label = "Nothing"; $0.quantity = 0; $0.unitPriceCents = 100 }, count: 200)
                    }
                })
            }
            #expect(manyBad?.code == .invalidArgument, "\(String(describing: manyBad))")
            let named = manyBad?.fields ?? []
            #expect(named.count > 10 && named.count < 200, "\(named.count)")
            #expect(Array(named.prefix(2)) == ["invoice.lines[0].quantity", "invoice.lines[1].quantity"])
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme" }).invoices.isEmpty)
            let euros = try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "EUR" } })
            let unknownCurrency = await failure { try await ops.updateInvoice(.with { $0.name = euros.name; $0.currencyCode = "QQQ" }, ["currency_code"]) }
            #expect(unknownCurrency?.fields == ["invoice.currency_code"])
            #expect(try await ops.getInvoice(euros.name).currencyCode == "EUR")

            let badPage = await failure { try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.pageSize = -1 }) }
            #expect(badPage?.fields == ["page_size"])
            let backwards = await failure {
                try await ops.listAppointments(.with {
                    $0.parent = "tenants/acme"; $0.minStartTime = Self.time(Self.origin); $0.maxStartTime = Self.time(Self.origin - Self.day)
                })
            }
            #expect(backwards?.fields == ["max_start_time"])
        }
    }

    @Test("phone numbers, external ids and invoice numbers are unique within a tenant", arguments: TestBackend.available)
    func uniqueness(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let ops = platform.operations(platform.ownerToken)
            let jane = try await ops.createCustomer(.with {
                $0.parent = "tenants/acme"; $0.customerID = "jane"
                $0.customer = .with { $0.displayName = "Jane Doe"; $0.phoneNumber = "+19185550101"; $0.externalID = "crm-1" }
            })

            let number = await failure { try await ops.customer("acme", "Jane Again", phone: "+19185550101") }
            #expect(number?.code == .alreadyExists)
            #expect(number?.reason == "phone_number_in_use")
            #expect(number?.fields == ["customer.phone_number"])
            let external = await failure {
                try await ops.createCustomer(.with { $0.parent = "tenants/acme"; $0.customer = .with { $0.displayName = "Jane Again"; $0.externalID = "crm-1" } })
            }
            #expect(external?.code == .alreadyExists)
            #expect(external?.reason == "external_id_in_use")
            #expect(external?.fields == ["customer.external_id"])
            // The tenant's own holder is named, so a partner can link to it rather than make another.
            #expect(external?.metadata["resource"] == jane.name)
            #expect(external?.message == "crm-1 is already used by \(jane.name)")
            #expect(number?.metadata["resource"] == jane.name)
            let sameID = await failure {
                try await ops.createCustomer(.with { $0.parent = "tenants/acme"; $0.customerID = "jane"; $0.customer = .with { $0.displayName = "Other Jane" } })
            }
            #expect(sameID?.code == .alreadyExists)
            #expect(sameID?.reason == "customer_exists")
            #expect(sameID?.fields == ["customer_id"])
            #expect(try await ops.listCustomers(.with { $0.parent = "tenants/acme" }).customers == [jane])

            // Another tenant's customers are no clash; neither are customers without a number.
            _ = try await ops.createCustomer(.with {
                $0.parent = "tenants/bravo"; $0.customerID = "jane"
                $0.customer = .with { $0.displayName = "Bravo's Jane"; $0.phoneNumber = "+19185550101"; $0.externalID = "crm-1" }
            })
            let bob = try await ops.customer("acme", "Bob Baker")
            _ = try await ops.customer("acme", "Amy Adams")

            let moved = await failure { try await ops.updateCustomer(.with { $0.name = bob.name; $0.phoneNumber = "+19185550101" }, ["phone_number"]) }
            #expect(moved?.code == .alreadyExists)
            #expect(moved?.fields == ["customer.phone_number"])
            #expect(try await ops.getCustomer(bob.name).phoneNumber.isEmpty)
            let kept = try await ops.updateCustomer(.with { $0.name = jane.name; $0.phoneNumber = "+19185550101"; $0.externalID = "crm-1"; $0.notes = "Kept" }, [
                "phone_number", "external_id", "notes",
            ])
            #expect(kept.notes == "Kept", "keeping its own number is no clash")

            _ = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointment = .with { $0.customer = jane.name; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin); $0.externalID = "booking-1" }
            })
            let appointmentExternal = await failure {
                try await ops.createAppointment(.with {
                    $0.parent = "tenants/acme"
                    $0.appointment = .with { $0.customer = jane.name; $0.serviceName = "Wax"; $0.startTime = Self.time(Self.origin); $0.externalID = "booking-1" }
                })
            }
            #expect(appointmentExternal?.code == .alreadyExists)
            #expect(appointmentExternal?.fields == ["appointment.external_id"])

            _ = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"
                $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.externalID = "qb-1" }
            })
            let invoiceExternal = await failure {
                try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.externalID = "qb-1" } })
            }
            #expect(invoiceExternal?.fields == ["invoice.external_id"])
            let invoiceNumber = await failure {
                try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.invoiceNumber = "INV-0001" } })
            }
            #expect(invoiceNumber?.code == .alreadyExists)
            #expect(invoiceNumber?.reason == "invoice_number_in_use")
            #expect(invoiceNumber?.fields == ["invoice.invoice_number"])
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme" }).invoices.count == 1)

            // A partner finds its own record by its own id, as it does a customer.
            _ = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointment = .with { $0.customer = jane.name; $0.serviceName = "Wax"; $0.startTime = Self.time(Self.origin) }
            })
            let booked = try await ops.listAppointments(.with { $0.parent = "tenants/acme"; $0.externalID = " booking-1" })
            #expect(booked.appointments.map(\.serviceName) == ["Wash"])
            #expect(try await ops.listAppointments(.with { $0.parent = "tenants/acme"; $0.externalID = "booking-2" }).appointments.isEmpty)
            _ = try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD" } })
            let billed = try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.externalID = "qb-1 " })
            #expect(billed.invoices.map(\.externalID) == ["qb-1"])
        }
    }

    @Test("a stale etag is ABORTED; a retried create returns its first result, and its id reused for another is refused", arguments: TestBackend.available)
    func etagsAndRetries(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(platform.ownerToken)
            let request = CreateCustomerRequest.with {
                $0.parent = "tenants/acme"
                $0.customer = .with { $0.displayName = "Jane Doe"; $0.phoneNumber = "+19185550101" }
                $0.requestID = "create-jane-1"
            }
            let jane = try await ops.createCustomer(request)
            #expect(try await ops.createCustomer(request) == jane)
            var changed = request
            changed.customer.displayName = "Someone Else"
            let reused = await failure { try await ops.createCustomer(changed) }
            #expect(reused?.code == .invalidArgument, "the id of one create sent with another is a caller's mistake")
            #expect(reused?.fields == ["request_id"])
            #expect(try await ops.listCustomers(.with { $0.parent = "tenants/acme" }).customers == [jane])
            let events = try await platform.auditEvents(.with { $0.method = "/servicepro.operations.v1.CustomerService/CreateCustomer" })
            #expect(events.filter { $0.outcomeCode == "OK" }.map(\.resourceName) == [jane.name], "one event for one create")

            _ = try await ops.updateCustomer(.with { $0.name = jane.name; $0.notes = "First"; $0.etag = jane.etag }, ["notes"])
            let stale = await failure { try await ops.updateCustomer(.with { $0.name = jane.name; $0.notes = "Second"; $0.etag = jane.etag }, ["notes"]) }
            #expect(stale?.code == .aborted)
            #expect(stale?.reason == "etag_mismatch")
            #expect(try await ops.getCustomer(jane.name).notes == "First")

            let appointment = try await ops.appointment(for: jane, at: Self.origin)
            _ = try await ops.updateAppointment(.with { $0.name = appointment.name; $0.status = .confirmed; $0.etag = appointment.etag }, ["status"])
            let staleAppointment = await failure {
                try await ops.updateAppointment(.with { $0.name = appointment.name; $0.status = .cancelled; $0.etag = appointment.etag }, ["status"])
            }
            #expect(staleAppointment?.code == .aborted)
            #expect(try await ops.getAppointment(appointment.name).status == .confirmed)

            let invoiceRequest = CreateInvoiceRequest.with {
                $0.parent = "tenants/acme"
                $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD" }
                $0.requestID = "invoice-1"
            }
            let invoice = try await ops.createInvoice(invoiceRequest)
            #expect(try await ops.createInvoice(invoiceRequest) == invoice)
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme" }).invoices.map(\.invoiceNumber) == ["INV-0001"])
            _ = try await ops.updateInvoice(.with { $0.name = invoice.name; $0.notes = "Net 30"; $0.etag = invoice.etag }, ["notes"])
            // Left at 0, a status would not say which: an update that names it sets it.
            let unsaid = await failure { try await ops.updateInvoice(.with { $0.name = invoice.name; $0.notes = "Net 45" }, ["notes", "status"]) }
            #expect(unsaid?.fields == ["invoice.status"])
            #expect(try await ops.getInvoice(invoice.name).notes == "Net 30")
            let staleInvoice = await failure { try await ops.updateInvoice(.with { $0.name = invoice.name; $0.notes = "Net 60"; $0.etag = invoice.etag }, ["notes"]) }
            #expect(staleInvoice?.code == .aborted)

            // Sending back what was read changes nothing: the same etag and update time, no event.
            let updates = { try await platform.auditEvents(.with { $0.method = "/servicepro.operations.v1.CustomerService/UpdateCustomer" }).count }
            let before = try await updates()
            let read = try await ops.getCustomer(jane.name)
            #expect(try await ops.updateCustomer(read, ["notes", "display_name"]) == read)
            let readAppointment = try await ops.getAppointment(appointment.name)
            #expect(try await ops.updateAppointment(readAppointment, ["status", "notes"]) == readAppointment)
            let readInvoice = try await ops.getInvoice(invoice.name)
            #expect(try await ops.updateInvoice(readInvoice, ["notes", "lines"]) == readInvoice)
            #expect(try await updates() == before)
            // Nor does what another system holds more finely than the store: a time to the
            // nanosecond, a duration with a fraction of a second, an invoice's due time.
            var finer = readAppointment
            finer.startTime = .init(seconds: 1_900_003_600, nanos: 123_456_789)
            finer.duration = .init(seconds: 5400, nanos: 500_000_000)
            let rescheduled = try await ops.updateAppointment(finer, ["start_time", "duration"])
            #expect(rescheduled.duration == .init(seconds: 5400))
            finer.etag = rescheduled.etag
            #expect(try await ops.updateAppointment(finer, ["start_time", "duration"]) == rescheduled, "sent again, it changes nothing")
            finer.duration = .init(seconds: 0)
            #expect(try await ops.updateAppointment(finer, ["duration"]).hasDuration == false, "a zero duration is none")
            let due = try await ops.updateInvoice(.with { $0.name = invoice.name; $0.dueTime = .init(seconds: 1_900_000_000, nanos: 123_456_789); $0.etag = readInvoice.etag }, ["due_time"])
            var dueFiner = due
            dueFiner.dueTime.nanos = 123_456_999
            #expect(try await ops.updateInvoice(dueFiner, ["due_time"]) == due)
        }
    }

    @Test("listings page through every row once, and a token fits only its own listing", arguments: TestBackend.available)
    func pagination(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(platform.ownerToken)
            // Equal display names: the id breaks the tie, so none is skipped or served twice.
            var customers: [Customer] = []
            for (index, displayName) in ["Dee", "Cy", "Dee", "Al", "Dee", "Bo"].enumerated() {
                customers.append(try await ops.createCustomer(.with {
                    $0.parent = "tenants/acme"; $0.customerID = "c\(index)"; $0.customer = .with { $0.displayName = displayName }
                }))
            }
            var seen: [String] = []
            var token = ""
            repeat {
                let page = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = token })
                #expect(page.customers.count <= 2)
                seen += page.customers.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen == ["c3", "c5", "c1", "c0", "c2", "c4"].map { "tenants/acme/customers/\($0)" })

            let jane = customers[0]
            var appointments: [Appointment] = []
            for offset: Int64 in [3, 1, 4, 1, 5] {
                appointments.append(try await ops.appointment(for: jane, at: Self.origin + offset * Self.day))
            }
            seen = []
            repeat {
                let page = try await ops.listAppointments(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = token })
                seen += page.appointments.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            let byStart = appointments.sorted { ($0.startTime.seconds, $0.name) < ($1.startTime.seconds, $1.name) }
            #expect(seen == byStart.map(\.name), "by start time, earliest first")

            var invoices: [Invoice] = []
            for _ in 1...5 {
                invoices.append(try await ops.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD" } }))
            }
            seen = []
            repeat {
                let page = try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = token })
                seen += page.invoices.map(\.name)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen == invoices.reversed().map(\.name), "newest first")

            let first = try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.pageSize = 2 })
            let replayed = await failure {
                try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.externalID = "x"; $0.pageToken = first.nextPageToken })
            }
            #expect(replayed?.fields == ["page_token"])
            let elsewhere = await failure {
                try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.pageSize = 2; $0.pageToken = first.nextPageToken })
            }
            #expect(elsewhere?.fields == ["page_token"])
        }
    }

    @Test("another tenant's customers, appointments and invoices are NOT_FOUND and cannot be referenced", arguments: TestBackend.available)
    func tenantIsolation(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let owner = platform.operations(platform.ownerToken)
            let secret = try await owner.customer("bravo", "Bravo's Secret Client", phone: "+19185550199")
            let secretAppointment = try await owner.appointment(for: secret, at: Self.origin)
            let secretInvoice = try await owner.createInvoice(.with {
                $0.parent = "tenants/bravo"; $0.invoice = .with { $0.customer = secret.name; $0.currencyCode = "USD" }
            })
            let admin = platform.operations(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let jane = try await admin.customer("acme", "Jane Doe")
            let secretID = try #require(secret.name.split(separator: "/").last)

            /// The call fails as if the resource did not exist, and says nothing of it.
            func expectHidden(_ what: String, _ call: () async throws -> some Any) async {
                let result = await failure(call)
                #expect(result?.code == .notFound, "\(what): \(String(describing: result))")
                #expect(result?.message.contains("Secret") == false, "\(what)")
            }
            await expectHidden("get customer") { try await admin.getCustomer(secret.name) }
            await expectHidden("list customers") { try await admin.listCustomers(.with { $0.parent = "tenants/bravo" }) }
            await expectHidden("update customer") { try await admin.updateCustomer(.with { $0.name = secret.name; $0.notes = "Mine now" }, ["notes"]) }
            await expectHidden("get appointment") { try await admin.getAppointment(secretAppointment.name) }
            await expectHidden("list appointments") { try await admin.listAppointments(.with { $0.parent = "tenants/bravo" }) }
            await expectHidden("update appointment") {
                try await admin.updateAppointment(.with { $0.name = secretAppointment.name; $0.status = .cancelled }, ["status"])
            }
            await expectHidden("get invoice") { try await admin.getInvoice(secretInvoice.name) }
            await expectHidden("list invoices") { try await admin.listInvoices(.with { $0.parent = "tenants/bravo" }) }
            await expectHidden("update invoice") { try await admin.updateInvoice(.with { $0.name = secretInvoice.name; $0.status = .void }, ["status"]) }
            // The same id under the caller's own tenant is simply not there.
            await expectHidden("same id, own tenant") { try await owner.getCustomer("tenants/acme/customers/\(secretID)") }
            #expect(try await owner.getCustomer(secret.name) == secret)
            #expect(try await owner.getInvoice(secretInvoice.name) == secretInvoice)

            /// Referencing another tenant's resource is answered like referencing a missing one.
            func expectRefused(_ field: String, _ what: String, _ call: () async throws -> some Any) async {
                let result = await failure(call)
                #expect(result?.code == .invalidArgument, "\(what): \(String(describing: result))")
                #expect(result?.fields == [field], "\(what)")
                #expect(result?.message.contains("Secret") == false, "\(what)")
            }
            await expectRefused("appointment.customer", "bravo's customer") {
                try await admin.createAppointment(.with {
                    $0.parent = "tenants/acme"
                    $0.appointment = .with { $0.customer = secret.name; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin) }
                })
            }
            await expectRefused("appointment.customer", "a missing customer") {
                try await admin.createAppointment(.with {
                    $0.parent = "tenants/acme"
                    $0.appointment = .with { $0.customer = "tenants/acme/customers/nosuch"; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin) }
                })
            }
            await expectRefused("invoice.customer", "bravo's customer") {
                try await admin.createInvoice(.with { $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = secret.name; $0.currencyCode = "USD" } })
            }
            await expectRefused("invoice.appointment", "bravo's appointment") {
                try await admin.createInvoice(.with {
                    $0.parent = "tenants/acme"
                    $0.invoice = .with { $0.customer = jane.name; $0.appointment = secretAppointment.name; $0.currencyCode = "USD" }
                })
            }
            await expectRefused("customer", "appointments filtered by bravo's customer") {
                try await admin.listAppointments(.with { $0.parent = "tenants/acme"; $0.customer = secret.name })
            }
            await expectRefused("customer", "invoices filtered by bravo's customer") {
                try await admin.listInvoices(.with { $0.parent = "tenants/acme"; $0.customer = secret.name })
            }
            #expect(try await admin.listAppointments(.with { $0.parent = "tenants/acme" }).appointments.isEmpty)
            #expect(try await admin.listInvoices(.with { $0.parent = "tenants/acme" }).invoices.isEmpty)
            #expect(try await owner.getCustomer(secret.name).notes.isEmpty)
            #expect(try await owner.getAppointment(secretAppointment.name).status == .scheduled)
        }
    }

    // MARK: Appointments

    @Test("appointments: book, list by start time with filters, reschedule and confirm", arguments: TestBackend.available)
    func appointments(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(try await platform.token(role: .tenantMember, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe")
            let bob = try await ops.customer("acme", "Bob Baker")

            let detail = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointmentID = "detail"
                $0.appointment = .with {
                    $0.customer = jane.name
                    $0.serviceName = " Full detail "
                    $0.startTime = Self.time(Self.origin + 2 * Self.day)
                    $0.duration = .init(seconds: 5400)
                    $0.address = "1 Main St, Tulsa"
                    $0.notes = "Black SUV"
                }
            })
            #expect(detail.name == "tenants/acme/appointments/detail")
            #expect(detail.customer == jane.name)
            #expect(detail.serviceName == "Full detail")
            #expect(detail.startTime.seconds == Self.origin + 2 * Self.day)
            #expect(detail.duration.seconds == 5400)
            #expect(detail.status == .scheduled, "SCHEDULED when unset")
            #expect(detail.address == "1 Main St, Tulsa" && detail.notes == "Black SUV")
            #expect(!detail.etag.isEmpty)
            #expect(try await ops.getAppointment(detail.name) == detail)

            let wash = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointment = .with { $0.customer = bob.name; $0.serviceName = "Wash"; $0.startTime = Self.time(Self.origin + Self.day); $0.status = .confirmed }
            })
            #expect(wash.status == .confirmed)
            #expect(!wash.hasDuration, "no duration given and no such service listed: none stored")
            let wax = try await ops.appointment(for: jane, at: Self.origin + 3 * Self.day)

            func names(_ request: ListAppointmentsRequest) async throws -> [String] {
                var request = request
                request.parent = "tenants/acme"
                return try await ops.listAppointments(request).appointments.map(\.name)
            }
            #expect(try await names(.init()) == [wash.name, detail.name, wax.name])
            #expect(try await names(.with { $0.customer = jane.name }) == [detail.name, wax.name])
            #expect(try await names(.with { $0.status = .confirmed }) == [wash.name])
            #expect(try await names(.with {
                $0.minStartTime = Self.time(Self.origin + 2 * Self.day); $0.maxStartTime = Self.time(Self.origin + 3 * Self.day)
            }) == [detail.name], "from min_start_time inclusive to max_start_time exclusive")

            let rescheduled = try await ops.updateAppointment(.with {
                $0.name = detail.name
                $0.startTime = Self.time(Self.origin + 4 * Self.day)
                $0.status = .confirmed
                $0.etag = detail.etag
            }, ["start_time", "status"])
            #expect(rescheduled.startTime.seconds == Self.origin + 4 * Self.day)
            #expect(rescheduled.status == .confirmed)
            #expect(rescheduled.serviceName == detail.serviceName && rescheduled.duration == detail.duration && rescheduled.customer == jane.name)
            #expect(rescheduled.etag != detail.etag)
            #expect(try await names(.init()) == [wash.name, wax.name, detail.name])

            let done = try await ops.updateAppointment(.with { $0.name = detail.name; $0.status = .completed }, ["status", "duration"])
            #expect(done.status == .completed)
            #expect(!done.hasDuration, "naming the duration without one clears it")
            let noShow = try await ops.updateAppointment(.with { $0.name = wax.name; $0.status = .noShow }, ["status"])
            #expect(try await ops.getAppointment(wax.name) == noShow)

            // Done is final; a missed one may be booked again; a status named in the mask is set.
            let reopened = await failure { try await ops.updateAppointment(.with { $0.name = detail.name; $0.status = .scheduled }, ["status"]) }
            #expect(reopened?.code == .failedPrecondition)
            #expect(reopened?.reason == "invalid_status_transition")
            #expect(reopened?.message.contains("completed is final") == true, "\(String(describing: reopened))")
            let unnamed = await failure {
                try await ops.updateAppointment(.with { $0.name = wax.name; $0.startTime = Self.time(Self.origin + 7 * Self.day) }, ["start_time", "status"])
            }
            #expect(unnamed?.code == .invalidArgument)
            #expect(unnamed?.fields == ["appointment.status"])
            #expect(try await ops.getAppointment(wax.name) == noShow, "nothing changed")
            let rebooked = try await ops.updateAppointment(.with {
                $0.name = wax.name; $0.startTime = Self.time(Self.origin + 7 * Self.day); $0.status = .scheduled
            }, ["start_time", "status"])
            #expect(rebooked.status == .scheduled)

            // A service of the tenant's list, named in any case, gives its duration when none is set.
            _ = try await ConciergeService.Client(wrapping: platform.client).applyIndustryPack(
                .with { $0.name = "tenants/acme"; $0.industryPack = "industryPacks/auto_detailing" }, metadata: platform.metadata(platform.ownerToken))
            let listed = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointment = .with { $0.customer = bob.name; $0.serviceName = "full detail"; $0.startTime = Self.time(Self.origin + 5 * Self.day) }
            })
            #expect(listed.duration.seconds == 4 * 3600)
            #expect(listed.serviceName == "full detail", "the name stays as booked")
            let ownLength = try await ops.createAppointment(.with {
                $0.parent = "tenants/acme"
                $0.appointment = .with {
                    $0.customer = bob.name; $0.serviceName = "Full Detail"; $0.startTime = Self.time(Self.origin + 6 * Self.day); $0.duration = .init(seconds: 3600)
                }
            })
            #expect(ownLength.duration.seconds == 3600, "a duration given is kept")
        }
    }

    // MARK: Invoices

    @Test("invoices: the server computes amounts and numbers each tenant's invoices", arguments: TestBackend.available)
    func invoiceTotalsAndNumbers(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            try await platform.createTenant("bravo")
            let ops = platform.operations(try await platform.token(role: .tenantAdmin, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe")
            let detail = try await ops.appointment(for: jane, at: Self.origin)

            let first = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"
                $0.invoiceID = "first"
                $0.invoice = .with {
                    $0.customer = jane.name
                    $0.appointment = detail.name
                    $0.currencyCode = "USD"
                    $0.lines = [
                        .with { $0.label = "Full detail – SUV"; $0.quantity = 2; $0.unitPriceCents = 15_000; $0.amountCents = 1 },
                        .with { $0.label = "Tire shine"; $0.quantity = 1; $0.unitPriceCents = 999 },
                    ]
                    $0.taxCents = 1_250
                    // Computed by the server, whatever the request says.
                    $0.subtotalCents = 5
                    $0.totalCents = 7
                    $0.dueTime = Self.time(Self.origin + 30 * Self.day)
                }
            })
            #expect(first.name == "tenants/acme/invoices/first")
            #expect(first.invoiceNumber == "INV-0001")
            #expect(first.customer == jane.name && first.appointment == detail.name)
            #expect(first.lines.map(\.amountCents) == [30_000, 999])
            #expect(first.lines.map(\.label) == ["Full detail – SUV", "Tire shine"])
            #expect(first.subtotalCents == 30_999)
            #expect(first.totalCents == 32_249)
            #expect(first.status == .draft, "DRAFT when unset")
            #expect(!first.hasIssueTime && !first.hasPaidTime)
            #expect(first.dueTime.seconds == Self.origin + 30 * Self.day)
            #expect(try await ops.getInvoice(first.name) == first)

            let second = try await ops.invoice(for: jane)
            #expect(second.invoiceNumber == "INV-0002")
            let chosen = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.invoiceNumber = " INV-0100 " }
            })
            #expect(chosen.invoiceNumber == "INV-0100")
            #expect(try await ops.invoice(for: jane).invoiceNumber == "INV-0101", "after the highest, whoever chose it")
            _ = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.invoiceNumber = "2030-A" }
            })
            #expect(try await ops.invoice(for: jane).invoiceNumber == "INV-0102", "numbers of another shape do not count")

            let owner = platform.operations(platform.ownerToken)
            let bravoCustomer = try await owner.customer("bravo", "Bravo Client")
            #expect(try await owner.invoice(for: bravoCustomer).invoiceNumber == "INV-0001", "each tenant counts its own")

            // A draft's lines change, and its totals follow.
            let edited = try await ops.updateInvoice(.with {
                $0.name = first.name
                $0.lines = [.with { $0.label = "Full detail"; $0.quantity = 1; $0.unitPriceCents = 20_000 }]
                $0.taxCents = 0
                $0.etag = first.etag
            }, ["lines", "tax_cents"])
            #expect(edited.lines.map(\.amountCents) == [20_000])
            #expect(edited.subtotalCents == 20_000 && edited.totalCents == 20_000)
            #expect(edited.invoiceNumber == "INV-0001" && edited.appointment == detail.name)

            let bob = try await ops.customer("acme", "Bob Baker")
            let bobsAppointment = try await ops.appointment(for: bob, at: Self.origin)
            let wrongAppointment = await failure {
                try await ops.updateInvoice(.with { $0.name = first.name; $0.appointment = bobsAppointment.name }, ["appointment"])
            }
            #expect(wrongAppointment?.code == .invalidArgument)
            #expect(wrongAppointment?.fields == ["invoice.appointment"])
            let unlinked = try await ops.updateInvoice(.with { $0.name = first.name }, ["appointment"])
            #expect(unlinked.appointment.isEmpty)
            let renumbered = try await ops.updateInvoice(.with { $0.name = first.name; $0.invoiceNumber = "INV-0500" }, ["invoice_number"])
            #expect(renumbered.invoiceNumber == "INV-0500")
            let taken = await failure { try await ops.updateInvoice(.with { $0.name = second.name; $0.invoiceNumber = "INV-0500" }, ["invoice_number"]) }
            #expect(taken?.fields == ["invoice.invoice_number"])

            // Newest first, filtered by status and customer.
            let listed = try await ops.listInvoices(.with { $0.parent = "tenants/acme" })
            #expect(listed.invoices.first?.invoiceNumber == "INV-0102")
            #expect(listed.invoices.last?.name == first.name)
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.status = .issued }).invoices.isEmpty)
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.customer = bob.name }).invoices.isEmpty)
            #expect(try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.customer = jane.name }).invoices.count == 6)
        }
    }

    @Test("concurrent creates get consecutive invoice numbers, and numbering goes on past any integer", arguments: TestBackend.available)
    func concurrentNumbering(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme")
            let ops = platform.operations(platform.ownerToken)
            let jane = try await ops.customer("acme", "Jane Doe")
            let numbers: [String] = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 1...8 {
                    group.addTask { try await ops.invoice(for: jane).invoiceNumber }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(numbers.sorted() == (1...8).map { "INV-000\($0)" })

            // Numbering goes on past what any integer holds, one number after another.
            _ = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.invoiceNumber = "INV-0999999999999999999999" }
            })
            #expect(try await ops.invoice(for: jane).invoiceNumber == "INV-1000000000000000000000")
            #expect(try await ops.invoice(for: jane).invoiceNumber == "INV-1000000000000000000001")

            // A number set by hand while creates pick theirs: a picked one never clashes with it.
            let taken = "INV-1000000000000000000003"
            let outcomes: [Int: CallFailure] = await withTaskGroup(of: (Int, CallFailure?).self) { group in
                for index in 0..<5 {
                    group.addTask {
                        (index, await failure {
                            _ = try await ops.createInvoice(.with {
                                $0.parent = "tenants/acme"
                                $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; if index == 0 { $0.invoiceNumber = taken } }
                            })
                        })
                    }
                }
                return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(Set(outcomes.keys).isSubset(of: [0]), "only the number set by hand can be taken: \(outcomes)")
            #expect(outcomes[0].map { $0.code == .alreadyExists && $0.fields == ["invoice.invoice_number"] } ?? true, "\(outcomes)")

            // Past the longest number an invoice may have, numbering asks for one.
            _ = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.invoiceNumber = "INV-" + String(repeating: "9", count: 60) }
            })
            let exhausted = await failure { try await ops.invoice(for: jane) }
            #expect(exhausted?.reason == "invoice_numbers_exhausted")
        }
    }

    @Test("only a draft's number and lines change; issue and paid times follow the status", arguments: TestBackend.available)
    func invoiceLifecycle(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let ops = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe")
            let draft = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"
                $0.invoice = .with {
                    $0.customer = jane.name; $0.currencyCode = "USD"
                    $0.lines = [.with { $0.label = "Wash"; $0.quantity = 1; $0.unitPriceCents = 4_000 }]
                }
            })

            let before = Date().addingTimeInterval(-1)
            let issued = try await ops.updateInvoice(.with { $0.name = draft.name; $0.status = .issued }, ["status"])
            #expect(issued.status == .issued)
            #expect(issued.hasIssueTime && issued.issueTime.date >= before)
            #expect(!issued.hasPaidTime)

            for (paths, invoice) in [
                (["lines"], Invoice.with { $0.lines = [.with { $0.label = "Wash"; $0.quantity = 2; $0.unitPriceCents = 4_000 }] }),
                (["tax_cents"], Invoice.with { $0.taxCents = 300 }),
                (["currency_code"], Invoice.with { $0.currencyCode = "EUR" }),
                (["invoice_number"], Invoice.with { $0.invoiceNumber = "INV-9999" }),
            ] {
                var change = invoice
                change.name = draft.name
                let refused = await failure { try await ops.updateInvoice(change, paths) }
                #expect(refused?.code == .failedPrecondition, "\(paths)")
                #expect(refused?.reason == "invoice_not_draft", "\(paths)")
            }
            #expect(try await ops.getInvoice(draft.name).totalCents == 4_000)
            // Sending the lines it already has, as a full sync does, changes nothing and is fine.
            let resent = try await ops.updateInvoice(.with { $0.name = draft.name; $0.lines = draft.lines; $0.notes = "Thanks!" }, ["lines", "notes"])
            #expect(resent.notes == "Thanks!" && resent.lines == draft.lines)

            let backToDraft = await failure { try await ops.updateInvoice(.with { $0.name = draft.name; $0.status = .draft }, ["status"]) }
            #expect(backToDraft?.code == .failedPrecondition)
            #expect(backToDraft?.reason == "invalid_status_transition")

            let paid = try await ops.updateInvoice(.with { $0.name = draft.name; $0.status = .paid }, ["status"])
            #expect(paid.status == .paid)
            #expect(paid.issueTime == issued.issueTime)
            #expect(paid.hasPaidTime && paid.paidTime.date >= paid.issueTime.date)
            let voided = await failure { try await ops.updateInvoice(.with { $0.name = draft.name; $0.status = .void }, ["status"]) }
            #expect(voided?.reason == "invalid_status_transition")

            // Paid on the spot: issued and paid at once.
            let cash = try await ops.createInvoice(.with {
                $0.parent = "tenants/acme"; $0.invoice = .with { $0.customer = jane.name; $0.currencyCode = "USD"; $0.status = .paid }
            })
            #expect(cash.hasIssueTime && cash.hasPaidTime)
            // A draft that was never sent can be voided, and it never gets an issue time.
            let abandoned = try await ops.invoice(for: jane)
            let dropped = try await ops.updateInvoice(.with { $0.name = abandoned.name; $0.status = .void }, ["status"])
            #expect(dropped.status == .void && !dropped.hasIssueTime)

            let paidOnes = try await ops.listInvoices(.with { $0.parent = "tenants/acme"; $0.status = .paid })
            #expect(paidOnes.invoices.map(\.name) == [cash.name, draft.name])
        }
    }

    @Test("an import keeps its invoices' issue and paid times; a time comes only with its status, never from the future, and is fixed once set", arguments: TestBackend.available)
    func givenInvoiceTimes(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let ops = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe")
            let issuedAt: Int64 = 1_700_000_000
            let paidAt = issuedAt + 10 * Self.day
            func create(_ status: InvoiceStatus, issue: Int64? = nil, paid: Int64? = nil) async throws -> Invoice {
                try await ops.createInvoice(.with {
                    $0.parent = "tenants/acme"
                    $0.invoice = .with {
                        $0.customer = jane.name; $0.currencyCode = "USD"; $0.status = status
                        if let issue { $0.issueTime = Self.time(issue) }
                        if let paid { $0.paidTime = Self.time(paid) }
                    }
                })
            }

            let imported = try await create(.paid, issue: issuedAt, paid: paidAt)
            #expect(imported.issueTime.seconds == issuedAt && imported.paidTime.seconds == paidAt)
            #expect(try await ops.getInvoice(imported.name) == imported)
            let paidOnTheSpot = try await create(.paid, paid: paidAt)
            #expect(paidOnTheSpot.issueTime == paidOnTheSpot.paidTime, "issued when it was paid")

            let draft = try await ops.invoice(for: jane)
            let issued = try await ops.updateInvoice(.with {
                $0.name = draft.name; $0.status = .issued; $0.issueTime = Self.time(issuedAt)
            }, ["status", "issue_time"])
            #expect(issued.issueTime.seconds == issuedAt && !issued.hasPaidTime)
            // Sent back as read, it is no change; moved, it is refused.
            let resent = try await ops.updateInvoice(.with { $0.name = draft.name; $0.issueTime = issued.issueTime; $0.notes = "Synced" }, ["issue_time", "notes"])
            #expect(resent.notes == "Synced" && resent.issueTime == issued.issueTime)
            let moved = await failure {
                try await ops.updateInvoice(.with { $0.name = draft.name; $0.issueTime = Self.time(issuedAt + 60) }, ["issue_time"])
            }
            #expect(moved?.code == .failedPrecondition && moved?.reason == "invoice_time_fixed")

            let now = Int64(Date().timeIntervalSince1970)
            let refusals: [(Invoice, [String], String)] = [
                (.with { $0.status = .paid; $0.paidTime = Self.time(issuedAt - Self.day) }, ["status", "paid_time"], "invoice.paid_time"),
                (.with { $0.status = .paid; $0.paidTime = Self.time(now + Self.day) }, ["status", "paid_time"], "invoice.paid_time"),
                (.with { $0.paidTime = Self.time(paidAt) }, ["paid_time"], "invoice.paid_time"),
            ]
            for (change, paths, field) in refusals {
                var change = change
                change.name = draft.name
                let refused = await failure { try await ops.updateInvoice(change, paths) }
                #expect(refused?.code == .invalidArgument, "\(change)")
                #expect(refused?.fields == [field], "\(change)")
            }
            #expect(try await ops.getInvoice(draft.name) == resent, "a refused change changes nothing")

            let unsent = await failure { try await create(.draft, issue: issuedAt) }
            #expect(unsent?.code == .invalidArgument && unsent?.fields == ["invoice.issue_time"])
            let unpaid = await failure { try await create(.issued, issue: issuedAt, paid: paidAt) }
            #expect(unpaid?.code == .invalidArgument && unpaid?.fields == ["invoice.paid_time"])
        }
    }

    // MARK: Other callers

    @Test("deletes: a draft invoice, an appointment no invoice names, a customer with neither, whose texts stay unlinked", arguments: TestBackend.available)
    func deletes(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550101" }
            }, metadata: platform.metadata(platform.ownerToken))
            let ops = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe", phone: "+15550001111")
            let texted = try await InboundService.Client(wrapping: platform.client).handleInboundMessage(.with {
                $0.messageSid = "SM" + String(format: "%032x", 1); $0.to = "+19185550101"; $0.from = "+15550001111"; $0.body = "Hi"
            }, metadata: platform.metadata(platform.bridgeToken)).message
            #expect(texted.customer == jane.name)
            let booked = try await ops.appointment(for: jane, at: Self.origin)
            let spare = try await ops.appointment(for: jane, at: Self.origin + 3600)
            var billed = try await ops.invoice(for: jane)
            billed = try await ops.updateInvoice(.with { $0.name = billed.name; $0.appointment = booked.name }, ["appointment"])
            let draft = try await ops.invoice(for: jane)

            // Each refusal says what to do instead, and changes nothing.
            let hasRecords = await failure { try await ops.deleteCustomer(jane.name) }
            #expect(hasRecords?.code == .failedPrecondition && hasRecords?.reason == "customer_has_records", "\(String(describing: hasRecords))")
            #expect(hasRecords?.message.contains("cannot be deleted") == true, "an invoice bills her")
            let invoiced = await failure { try await ops.deleteAppointment(booked.name) }
            #expect(invoiced?.reason == "appointment_invoiced")
            #expect(invoiced?.message.contains(billed.name) == true)
            #expect(invoiced?.message.contains("APPOINTMENT_STATUS_CANCELLED instead") == true, "\(String(describing: invoiced))")
            let stale = await failure { try await ops.deleteAppointment(spare.name, etag: "\"0\"") }
            #expect(stale?.code == .aborted)
            _ = try await ops.getAppointment(spare.name)

            try await ops.deleteAppointment(spare.name, etag: spare.etag)
            #expect(await failure { try await ops.getAppointment(spare.name) }?.code == .notFound)
            #expect(await failure { try await ops.deleteAppointment(spare.name) }?.code == .notFound)
            try await ops.deleteInvoice(draft.name)
            #expect(await failure { try await ops.getInvoice(draft.name) }?.code == .notFound)
            let issued = try await ops.updateInvoice(.with { $0.name = billed.name; $0.status = .issued }, ["status"])
            let notDraft = await failure { try await ops.deleteInvoice(issued.name) }
            #expect(notDraft?.reason == "invoice_not_draft")
            #expect(notDraft?.message.contains("INVOICE_STATUS_VOID instead") == true)

            // A customer with only texts goes; the texts stay in the log, unlinked.
            let bob = try await ops.customer("acme", "Bob", phone: "+15550002222")
            let bobText = try await InboundService.Client(wrapping: platform.client).handleInboundMessage(.with {
                $0.messageSid = "SM" + String(format: "%032x", 2); $0.to = "+19185550101"; $0.from = "+15550002222"; $0.body = "Hello"
            }, metadata: platform.metadata(platform.bridgeToken)).message
            #expect(bobText.customer == bob.name)
            _ = try await InboundService.Client(wrapping: platform.client).handleInboundCall(.with {
                $0.callSid = "CA" + String(format: "%032x", 3); $0.to = "+19185550101"; $0.from = "+15550002222"
            }, metadata: platform.metadata(platform.bridgeToken))
            try await ops.deleteCustomer(bob.name, etag: bob.etag)
            #expect(await failure { try await ops.getCustomer(bob.name) }?.code == .notFound)
            let log = CommunicationLogService.Client(wrapping: platform.client)
            let kept = try await log.getMessage(.with { $0.name = bobText.name }, metadata: platform.metadata(platform.ownerToken))
            #expect(kept.customer.isEmpty && kept.body == "Hello")
            let call = try #require(try await log.listCalls(.with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first)
            #expect(call.from == "+15550002222" && call.customer.isEmpty, "the call stays, unlinked")
            let deletion = try await platform.auditEvents(.with { $0.method = "/servicepro.operations.v1.CustomerService/DeleteCustomer" }).first
            #expect(deletion?.details["unlinked_texts"] == "1" && deletion?.details["unlinked_calls"] == "1")
            #expect(try await log.getMessage(.with { $0.name = texted.name }, metadata: platform.metadata(platform.ownerToken)).customer == jane.name)

            // Another tenant's customer is NOT_FOUND, named as it is or under the caller's tenant.
            try await platform.createTenant("bravo", tier: .pro)
            let bravo = platform.operations(try await platform.token(role: .partner, tenant: "bravo"))
            #expect(await failure { try await bravo.deleteCustomer(jane.name) }?.code == .notFound)
            let moved = await failure { try await bravo.deleteCustomer(jane.name.replacingOccurrences(of: "tenants/acme", with: "tenants/bravo")) }
            #expect(moved?.code == .notFound)
            _ = try await ops.getCustomer(jane.name)
        }
    }

    @Test("an inbound text links to its customer, found or created, visible through ListCustomers", arguments: TestBackend.available)
    func inboundTextCustomers(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let owner = platform.metadata(platform.ownerToken)
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550101" }
            }, metadata: owner)
            let ops = platform.operations(platform.ownerToken)
            let known = try await ops.customer("acme", "Known Caller", phone: "+15550002222")
            let inbound = InboundService.Client(wrapping: platform.client)
            let text = { (sid: Int, from: String) in
                try await inbound.handleInboundMessage(.with {
                    $0.messageSid = "SM" + String(format: "%032x", sid)
                    $0.to = "+19185550101"
                    $0.from = from
                    $0.body = "Do you have openings Friday?"
                }, metadata: platform.metadata(platform.bridgeToken))
            }

            let stranger = try await text(1, "+15550001111")
            #expect(stranger.message.customer.hasPrefix("tenants/acme/customers/"))
            #expect(stranger.replies.count == 1, "a new customer is acknowledged")
            let listed = try await ops.listCustomers(.with { $0.parent = "tenants/acme" })
            #expect(listed.customers.map(\.name) == [stranger.message.customer, known.name], "not yet named: first by display name")
            let created = try #require(listed.customers.first)
            #expect(created.phoneNumber == "+15550001111")
            #expect(created.displayName.isEmpty)
            #expect(try await ops.listCustomers(.with { $0.parent = "tenants/acme"; $0.phoneNumber = "+15550001111" }).customers == [created])

            let regular = try await text(2, "+15550002222")
            #expect(regular.message.customer == known.name, "a text from a known number links to that customer")
            #expect(regular.replies.isEmpty)

            let twin = await failure { try await ops.customer("acme", "Same Number", phone: "+15550001111") }
            #expect(twin?.code == .alreadyExists)
            #expect(twin?.fields == ["customer.phone_number"])
            // A sync that sends the unnamed customer back, all fields in its mask, settles; its
            // note goes on while the customer stays unnamed.
            #expect(try await ops.updateCustomer(created, ["display_name", "phone_number", "notes"]) == created)
            var noted = created
            noted.notes = "Asked about Friday"
            let withNote = try await ops.updateCustomer(noted, ["display_name", "notes"])
            #expect(withNote.notes == "Asked about Friday" && withNote.displayName.isEmpty)
            let named = try await ops.updateCustomer(.with { $0.name = created.name; $0.displayName = "Texting Tina"; $0.etag = withNote.etag }, ["display_name"])
            #expect(named.displayName == "Texting Tina" && named.phoneNumber == "+15550001111")
            let again = try await text(3, "+15550001111")
            #expect(again.message.customer == created.name)
            #expect(try await ops.listCustomers(.with { $0.parent = "tenants/acme" }).customers.count == 2)
        }
    }

    @Test("a partner key syncs customers; a member books but does not bill", arguments: TestBackend.available)
    func partnerAndMember(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            try await platform.createTenant("acme", tier: .pro)
            try await platform.createTenant("bravo", tier: .pro)
            let partner = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            let request = CreateCustomerRequest.with {
                $0.parent = "tenants/acme"
                $0.customer = .with { $0.displayName = "Pat Partner"; $0.externalID = "crm-42"; $0.email = "pat@example.com" }
                $0.requestID = "sync-crm-42"
            }
            let pat = try await partner.createCustomer(request)
            #expect(try await partner.createCustomer(request) == pat, "a retried sync creates nothing new")
            #expect(try await partner.listCustomers(.with { $0.parent = "tenants/acme" }).customers == [pat])
            #expect(try await partner.listCustomers(.with { $0.parent = "tenants/acme"; $0.externalID = "crm-42" }).customers == [pat])
            let synced = try await partner.listCustomers(.with { $0.parent = "tenants/acme"; $0.minUpdateTime = pat.updateTime })
            #expect(synced.customers == [pat], "changes since the last record received, that one included")
            let otherTenant = await failure { try await partner.listCustomers(.with { $0.parent = "tenants/bravo" }) }
            #expect(otherTenant?.code == .notFound)
            let invoice = try await partner.invoice(for: pat)
            #expect(invoice.invoiceNumber == "INV-0001")

            let member = platform.operations(try await platform.token(role: .tenantMember, tenant: "acme"))
            let walkIn = try await member.customer("acme", "Walk In")
            _ = try await member.appointment(for: walkIn, at: Self.origin)
            #expect(try await member.listInvoices(.with { $0.parent = "tenants/acme" }).invoices == [invoice])
            let bill = await failure { try await member.invoice(for: walkIn) }
            #expect(bill?.code == .permissionDenied)
            let edit = await failure { try await member.updateInvoice(.with { $0.name = invoice.name; $0.status = .void }, ["status"]) }
            #expect(edit?.code == .permissionDenied)
            let drop = await failure { try await member.deleteInvoice(invoice.name) }
            #expect(drop?.code == .permissionDenied)
            #expect(try await member.getInvoice(invoice.name) == invoice)
        }
    }

    /// PostgreSQL commits transactions in any order, so a change stamped earlier can become
    /// visible after one stamped later. A sync that served the later one would move the partner
    /// past the earlier one for good. (SQLite's listings hold its one writer; nothing is open.)
    @Test("a delete waits for a write that refers to its record, then finds the reference", .enabled(if: TestBackend.postgresURL != nil, "needs SERVICEPRO_TEST_DATABASE_URL"))
    func deleteWaitsForReferences() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let ops = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            let jane = try await ops.customer("acme", "Jane Doe")
            let janeID = try #require(CustomerRecords.collection.id(in: jane.name, tenantID: "acme"))
            // A booking that has checked its customer and not yet committed, as CreateAppointment
            // is between its check and its commit: the delete arrives meanwhile.
            let deletion = try await platform.database.withTenant("acme") { tx in
                _ = try await CustomerRecords.collection.referencedID(jane.name, field: "appointment.customer", tx)
                let deletion = Task { await failure { try await ops.deleteCustomer(jane.name) } }
                // The booking is written once the delete is seen waiting on this transaction's
                // hold on Jane, not after a guess at how long the delete takes to get there.
                try await poll("the delete to wait for the booking's transaction") {
                    try await platform.database.transaction(.platform) { other in
                        try await other.first("""
                            SELECT COUNT(*) AS n FROM pg_stat_activity
                            WHERE datname = current_database() AND usename = current_user AND wait_event_type = 'Lock'
                            """)!.int("n") > 0
                    }
                }
                try await tx.insert(into: "appointments", [
                    ("appointment_id", "booked"), ("customer_id", janeID), ("service_name", "Wash"), ("start_time", Date()),
                    ("status", "scheduled"), ("create_time", Date()), ("update_time", Date()),
                ])
                return deletion
            }
            let refused = await deletion.value
            #expect(refused?.reason == "customer_has_records", "\(String(describing: refused))")
            _ = try await ops.getAppointment("tenants/acme/appointments/booked")
        }
    }

    @Test("a sync never skips a change that commits after a later one", .enabled(if: TestBackend.postgresURL != nil, "needs SERVICEPRO_TEST_DATABASE_URL"))
    func syncLeavesOpenChangesToTheNextSync() async throws {
        try await TestPlatform.with(.postgres) { platform in
            try await platform.createTenant("acme", tier: .pro)
            let partner = platform.operations(try await platform.token(role: .partner, tenant: "acme"))
            @Sendable func sync(since: Google_Protobuf_Timestamp) async throws -> [Customer] {
                try await partner.listCustomers(.with { $0.parent = "tenants/acme"; $0.minUpdateTime = since }).customers
            }
            /// `customer` written again by a server whose clock is far behind the database's:
            /// the database's clock stamps it, so the test does not depend on the two agreeing.
            @Sendable func restamped(_ customer: Customer) async throws -> Customer {
                let id = String(customer.name.split(separator: "/").last!)
                _ = try await platform.database.withTenant("acme") { tx in
                    try await tx.update("customers", set: [("update_time", Int64(0))], where: "customer_id = \(id)")
                }
                return try await partner.getCustomer(customer.name)
            }
            let known = try await restamped(try await partner.customer("acme", "Known"))

            let (served, late) = try await platform.database.withTenant("acme") { tx in
                // Written first, by that server.
                try await tx.insert(into: "customers", [
                    ("customer_id", "slow"), ("display_name", "Slow"), ("create_time", Date()), ("update_time", Int64(0)),
                ])
                // Committed while "slow" is still being written.
                let late = try await restamped(try await partner.customer("acme", "Late"))
                return (try await sync(since: known.updateTime), late)
            }
            #expect(served.map(\.name) == [known.name], "a change newer than the oldest open write waits for the next sync")

            let next = try await sync(since: try #require(served.last).updateTime)
            #expect(next.map(\.name) == [known.name, "tenants/acme/customers/slow", late.name])
            let slow = try #require(next.first { $0.name.hasSuffix("/slow") })
            #expect(slow.updateTime.date > known.updateTime.date, "stamped when it was written, whatever the writer's clock")

            // A long read that writes nothing, such as an export's snapshot, holds nothing back
            // between its statements.
            let (besideRead, fresh) = try await platform.database.snapshot(.tenant("acme")) { tx in
                _ = try await tx.query("SELECT count(*) FROM customers")
                let fresh = try await restamped(try await partner.customer("acme", "Fresh"))
                return (try await sync(since: late.updateTime), fresh)
            }
            #expect(besideRead.map(\.name) == [late.name, fresh.name])

            // Appointments and invoices are stamped the same way.
            _ = try await partner.appointment(for: known, at: Self.origin)
            _ = try await partner.invoice(for: known)
            for table in ["appointments", "invoices"] {
                let lifted = try await platform.database.withTenant("acme") { tx in
                    try await tx.update(table, set: [("update_time", Int64(0))], where: "1 = 1")
                    return try await tx.base.first(SQLStatement(sql: """
                        SELECT min(update_time) >= (EXTRACT(EPOCH FROM transaction_timestamp()) * 1000000)::bigint AS lifted FROM \(table)
                        """))?.bool("lifted")
                }
                #expect(lifted == true, "\(table)")
            }
        }
    }
}

/// Customer, appointment and invoice clients with one caller's credentials attached to every call.
private struct OperationsCalls<Transport: ClientTransport>: Sendable {
    let customers: CustomerService.Client<Transport>
    let appointments: AppointmentService.Client<Transport>
    let invoices: InvoiceService.Client<Transport>
    let metadata: Metadata

    func createCustomer(_ request: CreateCustomerRequest) async throws -> Customer { try await customers.createCustomer(request, metadata: metadata) }
    func getCustomer(_ name: String) async throws -> Customer { try await customers.getCustomer(.with { $0.name = name }, metadata: metadata) }
    func listCustomers(_ request: ListCustomersRequest) async throws -> ListCustomersResponse { try await customers.listCustomers(request, metadata: metadata) }
    func updateCustomer(_ customer: Customer, _ paths: [String]) async throws -> Customer {
        try await customers.updateCustomer(.with { $0.customer = customer; $0.updateMask = .init(protoPaths: paths) }, metadata: metadata)
    }

    func createAppointment(_ request: CreateAppointmentRequest) async throws -> Appointment { try await appointments.createAppointment(request, metadata: metadata) }
    func getAppointment(_ name: String) async throws -> Appointment { try await appointments.getAppointment(.with { $0.name = name }, metadata: metadata) }
    func listAppointments(_ request: ListAppointmentsRequest) async throws -> ListAppointmentsResponse { try await appointments.listAppointments(request, metadata: metadata) }
    func updateAppointment(_ appointment: Appointment, _ paths: [String]) async throws -> Appointment {
        try await appointments.updateAppointment(.with { $0.appointment = appointment; $0.updateMask = .init(protoPaths: paths) }, metadata: metadata)
    }

    func createInvoice(_ request: CreateInvoiceRequest) async throws -> Invoice { try await invoices.createInvoice(request, metadata: metadata) }
    func getInvoice(_ name: String) async throws -> Invoice { try await invoices.getInvoice(.with { $0.name = name }, metadata: metadata) }
    func listInvoices(_ request: ListInvoicesRequest) async throws -> ListInvoicesResponse { try await invoices.listInvoices(request, metadata: metadata) }
    func updateInvoice(_ invoice: Invoice, _ paths: [String]) async throws -> Invoice {
        try await invoices.updateInvoice(.with { $0.invoice = invoice; $0.updateMask = .init(protoPaths: paths) }, metadata: metadata)
    }

    func deleteCustomer(_ name: String, etag: String = "") async throws {
        _ = try await customers.deleteCustomer(.with { $0.name = name; $0.etag = etag }, metadata: metadata)
    }
    func deleteAppointment(_ name: String, etag: String = "") async throws {
        _ = try await appointments.deleteAppointment(.with { $0.name = name; $0.etag = etag }, metadata: metadata)
    }
    func deleteInvoice(_ name: String, etag: String = "") async throws {
        _ = try await invoices.deleteInvoice(.with { $0.name = name; $0.etag = etag }, metadata: metadata)
    }

    /// A new customer of `tenant` with a server-chosen id.
    func customer(_ tenant: String, _ displayName: String, phone: String = "") async throws -> Customer {
        try await createCustomer(.with {
            $0.parent = "tenants/\(tenant)"
            $0.customer = .with { $0.displayName = displayName; $0.phoneNumber = phone }
        })
    }

    /// A new appointment of `customer`'s, starting `seconds` after 1970.
    func appointment(for customer: Customer, at seconds: Int64) async throws -> Appointment {
        try await createAppointment(.with {
            $0.parent = ResourceName.tenant(ResourceName.tenantID(of: customer.name) ?? "")
            $0.appointment = .with { $0.customer = customer.name; $0.serviceName = "Wash"; $0.startTime = OperationsTests.time(seconds) }
        })
    }

    /// A new draft invoice of `customer`'s without lines, numbered by the server.
    func invoice(for customer: Customer) async throws -> Invoice {
        try await createInvoice(.with {
            $0.parent = ResourceName.tenant(ResourceName.tenantID(of: customer.name) ?? "")
            $0.invoice = .with { $0.customer = customer.name; $0.currencyCode = "USD" }
        })
    }
}

extension TestPlatform {
    fileprivate func operations(_ token: String) -> OperationsCalls<some ClientTransport> {
        OperationsCalls(
            customers: CustomerService.Client(wrapping: client),
            appointments: AppointmentService.Client(wrapping: client),
            invoices: InvoiceService.Client(wrapping: client),
            metadata: metadata(token))
    }
}
