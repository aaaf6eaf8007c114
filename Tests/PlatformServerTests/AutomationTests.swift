import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf
import Testing

@testable import PlatformServer

/// A pack's automations text a tenant's customers around their appointments, through the outbox,
/// from the tenant's line: the booking confirmation, the reminder a day ahead, the review request
/// two hours after the job (the auto_detailing pack's timings).
@Suite("Automations")
struct AutomationTests {
    static let hour: TimeInterval = 3_600
    static let day: TimeInterval = 86_400

    /// A pro tenant set up by the concierge with the auto_detailing pack on +19185550123, its time
    /// zone and review link set (unless told otherwise), and a customer with a phone number.
    struct Shop {
        let platform: TestPlatform
        let job: AutomationJob
        var owner: Metadata { platform.metadata(platform.ownerToken) }
        var appointments: AppointmentService.Client<HTTP2ClientTransport.Posix> { AppointmentService.Client(wrapping: platform.client) }
        var catalog: CatalogService.Client<HTTP2ClientTransport.Posix> { CatalogService.Client(wrapping: platform.client) }

        static func open(_ platform: TestPlatform, tier: PlanTier = .pro, timeZone: String = "America/Chicago", reviewURL: String = "https://g.page/shine/review") async throws -> Shop {
            let owner = platform.metadata(platform.ownerToken)
            var request = ConciergeTests.request("shine", tier: tier)
            request.telephony.ivrMode = .simple
            request.basics.timeZone = timeZone
            let created = try await ConciergeTests.concierge(platform).createConciergeTenant(request, metadata: owner)
            if !reviewURL.isEmpty {
                _ = try await TenantService.Client(wrapping: platform.client).updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/shine"; $0.reviewURL = reviewURL }
                    $0.updateMask = .init(protoPaths: ["review_url"])
                }, metadata: owner)
            }
            #expect(created.tenant.timeZone == timeZone)
            for (id, phone) in [("jane", "+19185550101"), ("nophone", "")] {
                _ = try await CustomerService.Client(wrapping: platform.client).createCustomer(.with {
                    $0.parent = "tenants/shine"
                    $0.customerID = id
                    $0.customer = .with { $0.displayName = "Jane"; $0.phoneNumber = phone }
                }, metadata: owner)
            }
            var logger = Logger(label: "test.automations")
            logger.logLevel = .critical
            // Tests run at any hour; the quiet hours have a test of their own.
            return Shop(platform: platform, job: AutomationJob(database: platform.database, quietHours: nil, logger: logger))
        }

        func book(_ id: String, startingIn seconds: TimeInterval, customer: String = "jane") async throws -> Appointment {
            try await book(id, at: Date().addingTimeInterval(seconds), customer: customer)
        }

        func book(_ id: String, at start: Date, customer: String = "jane") async throws -> Appointment {
            try await appointments.createAppointment(.with {
                $0.parent = "tenants/shine"
                $0.appointmentID = id
                $0.appointment = .with {
                    $0.customer = "tenants/shine/customers/\(customer)"
                    $0.serviceName = "Full Detail"
                    $0.startTime = Google_Protobuf_Timestamp(date: start)
                }
            }, metadata: owner)
        }

        /// 10 AM in Chicago, `days` days from today there: a start whose day-ahead reminder falls
        /// on the day before, whatever the hour the test runs at. The hour is set on the clock, not
        /// added to midnight: on a day the clocks change, ten hours after midnight is 9 or 11 AM.
        static func tenAM(inDays days: Int) -> Date {
            var chicago = Calendar(identifier: .gregorian)
            chicago.timeZone = TimeZone(identifier: "America/Chicago")!
            let day = chicago.date(byAdding: .day, value: days, to: chicago.startOfDay(for: Date()))!
            return chicago.date(bySettingHour: 10, minute: 0, second: 0, of: day)!
        }

        /// The automation texts queued so far: purpose, recipient, sender and body, oldest first.
        func texts() async throws -> [(purpose: String, to: String, from: String, body: String)] {
            try await platform.database.transaction(.platform) { tx in
                try await tx.query("""
                    SELECT purpose, recipient, sender, body FROM outbox_messages
                    WHERE tenant_id = 'shine' AND purpose LIKE 'automation %' ORDER BY create_time, message_id
                    """).map { (try $0.string("purpose"), try $0.string("recipient"), try $0.string("sender"), try $0.string("body")) }
            }
        }
    }

    @Test("a booking is confirmed, reminded a day ahead and followed by a review request, each once", arguments: TestBackend.available)
    func confirmationReminderAndReview(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let start = Shop.tenAM(inDays: 3)
            let when = AppointmentTime.spoken(start, in: TimeZone(identifier: "America/Chicago")!)
            let booked = try await shop.appointments.createAppointment(.with {
                $0.parent = "tenants/shine"
                $0.appointmentID = "detail"
                $0.appointment = .with {
                    $0.customer = "tenants/shine/customers/jane"
                    $0.serviceName = "Full Detail"
                    $0.startTime = Google_Protobuf_Timestamp(date: start)
                }
            }, metadata: shop.owner)
            _ = try await shop.book("walkin", startingIn: 3 * Self.hour, customer: "nophone")

            let now = Date()
            #expect(try await shop.job.runOnce(now: now) == 1)
            #expect(try await shop.job.runOnce(now: now.addingTimeInterval(60)) == 0, "confirmed once")
            var texts = try await shop.texts()
            #expect(texts.count == 1)
            #expect(texts.first?.purpose == "automation booking_confirmation")
            #expect(texts.first?.to == "+19185550101")
            #expect(texts.first?.from == "+19185550123", "from the tenant's line")
            #expect(texts.first?.body == "Hi Jane, you're booked with Shine Auto Spa for a Full Detail on \(when). Please clear out personal items before we arrive. Reply C to cancel or R to reschedule.")

            // The reminder: not 25 hours ahead, but 23 hours ahead, once.
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-25 * Self.hour)) == 0)
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-23 * Self.hour)) == 1)
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-22 * Self.hour)) == 0)
            texts = try await shop.texts()
            #expect(texts.last?.purpose == "automation reminder_24h")
            let clock = try #require(when.components(separatedBy: " at ").last)
            #expect(texts.last?.body.contains("your Full Detail is tomorrow at \(clock).") == true, "\(texts.last?.body ?? "")")

            // Done: the review request two hours after it was marked completed, with the review link.
            let completed = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = booked.name; $0.status = .completed }
                $0.updateMask = .init(protoPaths: ["status"])
            }, metadata: shop.owner)
            #expect(completed.hasCompleteTime)
            let doneAt = completed.completeTime.date
            #expect(try await shop.job.runOnce(now: doneAt.addingTimeInterval(Self.hour)) == 0)
            #expect(try await shop.job.runOnce(now: doneAt.addingTimeInterval(2 * Self.hour + 60)) == 1)
            // (Queued as of the pass's time, which the test set past the reminder's.)
            let review = try #require(try await shop.texts().first { $0.purpose == "automation review_request" })
            #expect(review.body.hasSuffix("a quick review helps us a lot: https://g.page/shine/review"))
            // More than a day late, a text is no longer sent.
            _ = try await shop.book("late", startingIn: 5 * Self.day)
            #expect(try await shop.job.runOnce(now: Date().addingTimeInterval(Self.day + Self.hour)) == 0, "the booking confirmation's day has passed")
            #expect(try await shop.texts().count == 3, "the customer without a phone got nothing")
        }
    }

    @Test("a business that starts on a plan without automations has them from its upgrade on, with nothing applied again", arguments: TestBackend.available)
    func upgradeSwitchesAutomationsOn(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform, tier: .starter)
            let start = Shop.tenAM(inDays: 3)
            _ = try await shop.book("detail", at: start)
            #expect(try await shop.job.runOnce() == 0, "starter has no industry automations")
            _ = try await platform.setPlan("shine", .pro)
            #expect(try await shop.job.runOnce() == 1, "the pack's booking confirmation, as the pack gave it")
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-23 * Self.hour)) == 1, "and its reminder")
        }
    }

    @Test("a customer's C to a booking text cancels that booking and says so, an R asks for a new time; the business is told of each, once", arguments: TestBackend.available)
    func customerReplies(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let start = Shop.tenAM(inDays: 3)
            let when = AppointmentTime.spoken(start, in: TimeZone(identifier: "America/Chicago")!)
            let detail = try await shop.book("detail", at: start)
            #expect(try await shop.job.runOnce() == 1, "its confirmation")
            let later = try await shop.book("later", at: Shop.tenAM(inDays: 6))
            // As the outbox worker records Twilio taking them: a text still queued was never read.
            func delivered() async throws {
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE outbox_messages SET state = 'delivered' WHERE purpose LIKE 'automation %'")
                }
            }
            // The business asks for a copy of each text: a reply it is told of is not copied too.
            _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                $0.phoneConfig = .with { $0.name = "tenants/shine/phoneConfigs/main"; $0.businessAlerts.texts = true }
                $0.updateMask = .init(protoPaths: ["business_alerts.texts"])
            }, metadata: shop.owner)
            let inbound = InboundService.Client(wrapping: platform.client)
            func text(_ number: Int, _ body: String) async throws -> HandleInboundMessageResponse {
                try await inbound.handleInboundMessage(.with {
                    $0.messageSid = "SM" + String(format: "%032x", number); $0.to = "+19185550123"; $0.from = "+19185550101"; $0.body = body
                }, metadata: platform.metadata(platform.bridgeToken))
            }
            func status(_ appointment: Appointment) async throws -> AppointmentStatus {
                try await shop.appointments.getAppointment(.with { $0.name = appointment.name }, metadata: shop.owner).status
            }
            func notes() async throws -> [(to: String, body: String)] {
                try await platform.database.transaction(.platform) { tx in
                    try await tx.query("SELECT recipient, body FROM outbox_messages WHERE purpose = 'customer_reply' ORDER BY create_time")
                        .map { (try $0.string("recipient"), try $0.string("body")) }
                }
            }

            #expect(try await text(1, "C").replies.isEmpty, "its confirmation is not delivered yet")
            try await delivered()
            #expect(try await text(2, "cancel").replies.isEmpty, "Twilio's opt-out word, not an answer")
            let cancel = try await text(3, " c. ")
            #expect(cancel.replies.map(\.body) == ["Your Full Detail with Shine Auto Spa on \(when) is cancelled. Text us any time to book again."])
            #expect(cancel.message.autoReply == cancel.replies.first?.body, "kept on the text it answered")
            #expect(try await status(detail) == .cancelled)
            #expect(try await status(later) == .scheduled, "only the booking the text was about")
            #expect(try await notes().map(\.to) == ["+19185550999"])
            #expect(try await notes().first?.body == "Jane (+19185550101) cancelled their Full Detail on \(when) by text.")
            let audited = try await platform.audit(platform.ownerToken).list(.with { $0.parent = "tenants/shine" }).auditEvents
            #expect(audited.contains { $0.resourceName == detail.name && $0.details["by_customer_text"] == cancel.message.messageSid })

            // Twilio sends it again: nothing more is cancelled or said, and no copy goes.
            let again = try await text(3, " c. ")
            #expect(again.duplicate && again.replies.isEmpty)
            #expect(try await status(later) == .scheduled)
            #expect(try await notes().count == 1)
            let copies = try await platform.database.transaction(.platform) { tx in
                try await tx.query("SELECT body FROM outbox_messages WHERE purpose = 'business_alert text'").map { try $0.string("body") }
            }
            #expect(copies.count == 2 && !copies.contains { $0.hasSuffix("\" c. \"") }, "copies of the first C and of cancel only: \(copies)")
            // The cancelled booking gets no reminder.
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-23 * Self.hour)) == 0)

            // The booking texted about is closed now: an R is an ordinary text, and so is a second
            // C (it never reaches back to an older booking).
            #expect(try await text(4, "R").replies.isEmpty)
            #expect(try await shop.job.runOnce() == 1, "the later booking's confirmation")
            try await delivered()
            let move = try await text(5, "Reschedule")
            #expect(move.replies.first?.body == "Sure! Pick a new time for your Full Detail at https://shine.example/book, or reply with a day and time that suits you.")
            #expect(try await status(later) == .scheduled, "moving is the business's to do")
            #expect(try await notes().last?.body.hasPrefix("Jane (+19185550101) asked by text to move their Full Detail on ") == true)
            #expect(try await text(6, "Cancel my other appointment please").replies.isEmpty, "only C or R is an answer")

            // A business whose confirmation no longer offers C: a C is an ordinary text.
            let catalog = CatalogService.Client(wrapping: platform.client)
            var confirmation = try await catalog.getCatalogItem(
                .with { $0.name = "tenants/shine/catalogItems/sms-template-booking-confirmation" }, metadata: shop.owner)
            confirmation.smsTemplate.body = "Hi {{customer_name}}, see you {{start_relative}}. Reply R to reschedule."
            _ = try await catalog.updateCatalogItem(.with { $0.catalogItem = confirmation; $0.updateMask = .init(protoPaths: ["sms_template.body"]) }, metadata: shop.owner)
            #expect(try await text(7, "C").replies.isEmpty)
            #expect(try await status(later) == .scheduled)
        }
    }

    @Test("only a C or R that answers a text about the booking as it is now acts: not a question, not a text of a time it has moved from, not a text that offers no cancelling", arguments: TestBackend.available)
    func repliesToWhatTheTextSaid(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let booked = try await shop.book("detail", at: Shop.tenAM(inDays: 3))
            #expect(try await shop.job.runOnce() == 1, "its confirmation")
            func delivered() async throws {
                try await platform.database.transaction(.platform) { tx in
                    try await tx.execute("UPDATE outbox_messages SET state = 'delivered' WHERE purpose LIKE 'automation %'")
                }
            }
            try await delivered()
            let inbound = InboundService.Client(wrapping: platform.client)
            func text(_ number: Int, _ body: String) async throws -> HandleInboundMessageResponse {
                try await inbound.handleInboundMessage(.with {
                    $0.messageSid = "SM" + String(format: "%032x", number); $0.to = "+19185550123"; $0.from = "+19185550101"; $0.body = body
                }, metadata: platform.metadata(platform.bridgeToken))
            }
            func status() async throws -> AppointmentStatus {
                try await shop.appointments.getAppointment(.with { $0.name = booked.name }, metadata: shop.owner).status
            }

            #expect(try await text(1, "C?").replies.isEmpty, "a question about the text")
            #expect(try await status() == .scheduled)
            // Moved by the business; its new confirmation has not reached the customer yet.
            _ = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = booked.name; $0.startTime = Google_Protobuf_Timestamp(date: Shop.tenAM(inDays: 4)) }
                $0.updateMask = .init(protoPaths: ["start_time"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce() == 1, "the confirmation of its new time")
            #expect(try await text(2, "C").replies.isEmpty, "an answer to the text of the old time")
            #expect(try await status() == .scheduled)
            try await delivered()
            #expect(try await text(3, "C!").replies.count == 1, "an answer to the text of its time")
            #expect(try await status() == .cancelled)

            // A confirmation whose C means something else offers no cancelling.
            let catalog = CatalogService.Client(wrapping: platform.client)
            var confirmation = try await catalog.getCatalogItem(
                .with { $0.name = "tenants/shine/catalogItems/sms-template-booking-confirmation" }, metadata: shop.owner)
            confirmation.smsTemplate.body = "Hi {{customer_name}}, see you {{start_relative}}. Reply C to confirm."
            _ = try await catalog.updateCatalogItem(.with { $0.catalogItem = confirmation; $0.updateMask = .init(protoPaths: ["sms_template.body"]) }, metadata: shop.owner)
            let other = try await shop.book("other", at: Shop.tenAM(inDays: 5))
            #expect(try await shop.job.runOnce() == 1)
            try await delivered()
            #expect(try await text(4, "C").replies.isEmpty)
            #expect(try await shop.appointments.getAppointment(.with { $0.name = other.name }, metadata: shop.owner).status == .scheduled)
        }
    }

    @Test("a text offers C or R when it says, in the letter's sentence, what the letter does")
    func offeredReplies() {
        let both = "Reply C to cancel or R to reschedule.", reversed = "Reply R to reschedule or C to cancel."
        #expect(CustomerReply.cancel.offered(by: both) && CustomerReply.reschedule.offered(by: both))
        #expect(CustomerReply.cancel.offered(by: reversed) && CustomerReply.reschedule.offered(by: reversed))
        #expect(CustomerReply.reschedule.offered(by: "Reminder from Shine: Full Detail tomorrow. Reply R if you need to reschedule."))
        let confirming = "Reply C to confirm or R to reschedule. Cancellations under 24 h are charged."
        #expect(!CustomerReply.cancel.offered(by: confirming), "C confirms here; the cancel is another sentence's")
        #expect(CustomerReply.reschedule.offered(by: confirming))
        let spanish = "Responda C para cancelar o R para reprogramar."
        #expect(CustomerReply.cancel.offered(by: spanish) && CustomerReply.reschedule.offered(by: spanish))
        #expect(!CustomerReply.cancel.offered(by: "Hi Jane, see you tomorrow at 10:00 AM."))
    }

    @Test("a booking brought in with skip_confirmation gets no confirmation, and its reminder even when made inside the reminder's day", arguments: TestBackend.available)
    func importedBooking(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let start = Shop.tenAM(inDays: 2)
            _ = try await shop.appointments.createAppointment(.with {
                $0.parent = "tenants/shine"
                $0.appointmentID = "imported"
                $0.appointment = .with {
                    $0.customer = "tenants/shine/customers/jane"; $0.serviceName = "Full Detail"; $0.startTime = Google_Protobuf_Timestamp(date: start)
                }
                $0.skipConfirmation = true
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce() == 0, "no confirmation")
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("appointments", set: [("create_time", start.addingTimeInterval(-20 * Self.hour))], where: "appointment_id = 'imported'")
            }
            #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-19 * Self.hour)) == 1)
            #expect(try await shop.texts().map(\.purpose) == ["automation reminder_24h"])
        }
    }

    @Test("a booking moved after its confirmation is confirmed again with its new time, once, also back to a time told before; other changes send nothing", arguments: TestBackend.available)
    func movedBookingConfirmedAgain(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                let shop = try await Shop.open(platform)
                var settings = OutboxTests.settings(base: base)
                settings.quietHours = nil  // as the shop's automations: tests run at any hour
                let outbox = OutboxTests.worker(platform, settings)
                let chicago = TimeZone(identifier: "America/Chicago")!
                let ten = Shop.tenAM(inDays: 3), noon = Shop.tenAM(inDays: 4).addingTimeInterval(2 * Self.hour)
                func move(to start: Date) async throws {
                    _ = try await shop.appointments.updateAppointment(.with {
                        $0.appointment = .with { $0.name = "tenants/shine/appointments/detail"; $0.startTime = Google_Protobuf_Timestamp(date: start) }
                        $0.updateMask = .init(protoPaths: ["start_time"])
                    }, metadata: shop.owner)
                }
                /// The confirmations the customer has read, oldest first.
                func delivered() -> [String] {
                    fake.acceptedTexts.compactMap { $0.form["Body"] }
                }

                let booked = try await shop.book("detail", at: ten)
                #expect(try await shop.job.runOnce() == 1, "the confirmation")
                #expect(try await outbox.runOnce() == 1)
                // Booked days ago: the confirmation's own day is long gone.
                _ = try await platform.database.withTenant("shine") { tx in
                    try await tx.update("appointments", set: [("create_time", Date().addingTimeInterval(-3 * Self.day))], where: "appointment_id = 'detail'")
                }
                _ = try await shop.appointments.updateAppointment(.with {
                    $0.appointment = .with { $0.name = booked.name; $0.notes = "Bring the ladder" }
                    $0.updateMask = .init(protoPaths: ["notes"])
                }, metadata: shop.owner)
                #expect(try await shop.job.runOnce() == 0, "nothing new to tell")

                // Moved a day later: a second confirmation tells the new time (its reminder is days off).
                try await move(to: noon)
                #expect(try await shop.job.runOnce() == 1)
                #expect(try await shop.job.runOnce() == 0, "once for its new time, while it waits to go")
                // Moved back before that went: the customer still knows the time they were told,
                // and the text of the other time is not sent.
                try await move(to: ten)
                #expect(try await shop.job.runOnce() == 0, "the customer was told this time last")
                _ = try await outbox.runOnce()
                #expect(delivered().count == 1)

                // Moved again, and this time told; then back to the first time, told again.
                try await move(to: noon)
                #expect(try await shop.job.runOnce() == 1)
                #expect(try await outbox.runOnce() == 1)
                try await move(to: ten)
                #expect(try await shop.job.runOnce() == 1)
                #expect(try await shop.job.runOnce() == 0, "once for its move back")
                #expect(try await outbox.runOnce() == 1)
                let read = delivered()
                #expect(read.count == 3, "\(read)")
                #expect(read.dropFirst().first?.contains(AppointmentTime.spoken(noon, in: chicago)) == true, "\(read)")
                #expect(read.last?.contains(AppointmentTime.spoken(ten, in: chicago)) == true, "\(read)")
                #expect(try await shop.job.runOnce() == 0, "told")
            }
        }
    }

    @Test("a booking moved after its reminder is reminded of its new time, once", arguments: TestBackend.available)
    func movedBooking(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let first = Shop.tenAM(inDays: 3)
            let booked = try await shop.book("detail", at: first)
            #expect(try await shop.job.runOnce() == 1, "the confirmation")
            #expect(try await shop.job.runOnce(now: first.addingTimeInterval(-23 * Self.hour)) == 1)
            let moved = Shop.tenAM(inDays: 5)
            _ = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = booked.name; $0.startTime = Google_Protobuf_Timestamp(date: moved) }
                $0.updateMask = .init(protoPaths: ["start_time"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce(now: moved.addingTimeInterval(-23 * Self.hour)) == 1)
            #expect(try await shop.job.runOnce(now: moved.addingTimeInterval(-22 * Self.hour)) == 0, "once for its new time")
            // Saved again to the same minute (a sync writing seconds back, say): nothing new to say.
            _ = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = booked.name; $0.startTime = Google_Protobuf_Timestamp(date: moved.addingTimeInterval(12.5)) }
                $0.updateMask = .init(protoPaths: ["start_time"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce(now: moved.addingTimeInterval(-21 * Self.hour)) == 0, "the same minute")
            let reminders = try await shop.texts().filter { $0.purpose == "automation reminder_24h" }
            #expect(reminders.count == 2)
        }
    }

    @Test("a booking made inside the reminder's day gets its confirmation and no reminder; a reminder more than half its lead late is not sent", arguments: TestBackend.available)
    func noReminderForLateBooking(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            _ = try await shop.book("soon", startingIn: 3 * Self.hour)
            #expect(try await shop.job.runOnce() == 1)
            #expect(try await shop.job.runOnce(now: Date().addingTimeInterval(Self.hour)) == 0)
            #expect(try await shop.texts().map(\.purpose) == ["automation booking_confirmation"])

            // Its confirmation's day gone and its reminder 11 hours ahead ("tomorrow" no longer), nothing.
            let later = Shop.tenAM(inDays: 3)
            _ = try await shop.book("later", at: later)
            #expect(try await shop.job.runOnce(now: later.addingTimeInterval(-11 * Self.hour)) == 0)
            #expect(try await shop.job.runOnce(now: later.addingTimeInterval(-13 * Self.hour)) == 1)
            // At 8 PM, 13 hours ahead is 7 AM the same day: "tomorrow" would be wrong.
            let evening = later.addingTimeInterval(10 * Self.hour)
            _ = try await shop.book("evening", at: evening)
            #expect(try await shop.job.runOnce(now: evening.addingTimeInterval(-13 * Self.hour)) == 0)
            #expect(try await shop.job.runOnce(now: evening.addingTimeInterval(-23 * Self.hour)) == 1, "9 PM the day before")
        }
    }

    @Test("a reminder less than a day ahead goes out on the appointment's own day", arguments: TestBackend.available)
    func sameDayReminder(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let item = try await shop.catalog.getCatalogItem(.with { $0.name = "tenants/shine/catalogItems/automation-reminder-24h" }, metadata: shop.owner)
            _ = try await shop.catalog.updateCatalogItem(.with {
                $0.catalogItem = .with { $0.name = item.name; $0.automation = .with { $0.offset = .init(seconds: 43_200) } }
                $0.updateMask = .init(protoPaths: ["automation.offset"])
            }, metadata: shop.owner)
            // 6 PM, reminded 12 hours ahead: due at 6 AM that day (night, so it goes out in the
            // morning); at 7 AM it is sent, and says "today".
            let evening = Shop.tenAM(inDays: 3).addingTimeInterval(8 * Self.hour)
            _ = try await shop.book("evening", at: evening)
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("appointments", set: [("create_time", evening.addingTimeInterval(-3 * Self.day))], where: "appointment_id = 'evening'")
            }
            #expect(try await shop.job.runOnce(now: evening.addingTimeInterval(-11 * Self.hour)) == 1)
            let reminder = try #require(try await shop.texts().last)
            #expect(reminder.purpose == "automation reminder_24h")
            #expect(reminder.body.contains("your Full Detail is today at 6:00 PM"), "\(reminder.body)")
        }
    }

    @Test("a text the outbox comes to late waits for the business's morning, and goes no more once its booking was cancelled or moved", arguments: TestBackend.available)
    func lateTextsStillHold(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                let shop = try await Shop.open(platform)
                let outbox = OutboxTests.worker(platform, OutboxTests.settings(base: base))
                // A confirmation that says when relative to the day it is read.
                var template = try await shop.catalog.getCatalogItem(
                    .with { $0.name = "tenants/shine/catalogItems/sms-template-booking-confirmation" }, metadata: shop.owner)
                template.smsTemplate.body = "Hi {{customer_name}}, see you {{start_relative}}."
                _ = try await shop.catalog.updateCatalogItem(
                    .with { $0.catalogItem = template; $0.updateMask = .init(protoPaths: ["sms_template.body"]) }, metadata: shop.owner)
                let start = Shop.tenAM(inDays: 3)
                let booked = try await shop.book("detail", at: start)
                _ = try await shop.book("called-off", at: start.addingTimeInterval(3 * Self.hour))
                // Booked at 8 PM, and confirmed at 10 PM (the automations' clock is the test's).
                let night = Shop.tenAM(inDays: 1).addingTimeInterval(13 * Self.hour)
                _ = try await platform.database.withTenant("shine") { tx in
                    try await tx.update("appointments", set: [("create_time", night.addingTimeInterval(-3 * Self.hour))], where: "1 = 1")
                }
                #expect(try await shop.job.runOnce(now: night.addingTimeInterval(-Self.hour)) == 2)

                // Come to at 11 PM (a provider down all evening would do it): put off, spending
                // no attempt, until 8 AM where the business is.
                #expect(try await outbox.runOnce(now: night) == 2)
                let waiting = try await Self.outboxRows(platform)
                #expect(waiting.map(\.state) == [.pending, .pending])
                #expect(waiting.map(\.attempts) == [0, 0])
                #expect(waiting.allSatisfy { $0.nextAttemptTime == Shop.tenAM(inDays: 2).addingTimeInterval(-2 * Self.hour) }, "\(waiting.map(\.nextAttemptTime))")
                #expect(fake.texts.isEmpty)

                // By the morning one booking was called off: its confirmation is not sent.
                _ = try await shop.appointments.updateAppointment(.with {
                    $0.appointment = .with { $0.name = "tenants/shine/appointments/called-off"; $0.status = .cancelled }
                    $0.updateMask = .init(protoPaths: ["status"])
                }, metadata: shop.owner)
                let morning = Shop.tenAM(inDays: 2).addingTimeInterval(-Self.hour)
                #expect(try await outbox.runOnce(now: morning) == 2)
                let sent = try await Self.outboxRows(platform)
                let confirmation = try #require(sent.first { $0.dedupeKey?.contains("/detail@") == true })
                let calledOff = try #require(sent.first { $0.dedupeKey?.contains("/called-off@") == true })
                #expect(confirmation.state == .delivered)
                #expect(calledOff.state == .failed)
                #expect(calledOff.lastError == "not sent: its appointment was cancelled, or has begun")
                #expect(fake.acceptedTexts.map { $0.form["To"] } == ["+19185550101"])
                // Queued days ahead ("on Wed, …"), it is filled in again as it goes: read the day before.
                #expect(fake.acceptedTexts.first?.form["Body"] == "Hi Jane, see you tomorrow at 10:00 AM.")

                // A reminder queued for 10 AM, and the booking moved to noon before it went: not
                // sent, and the next pass reminds of noon.
                _ = try await platform.database.withTenant("shine") { tx in
                    try await tx.update("appointments", set: [("create_time", start.addingTimeInterval(-3 * Self.day))], where: "appointment_id = 'detail'")
                }
                #expect(try await shop.job.runOnce(now: start.addingTimeInterval(-23 * Self.hour)) == 1)
                let noon = start.addingTimeInterval(2 * Self.hour)
                _ = try await shop.appointments.updateAppointment(.with {
                    $0.appointment = .with { $0.name = booked.name; $0.startTime = Google_Protobuf_Timestamp(date: noon) }
                    $0.updateMask = .init(protoPaths: ["start_time"])
                }, metadata: shop.owner)
                #expect(try await outbox.runOnce(now: start.addingTimeInterval(-22 * Self.hour)) == 1)
                #expect(try await Self.outboxRows(platform).last?.lastError == "not sent: its appointment was moved; the automations text its new time")
                #expect(try await shop.job.runOnce(now: noon.addingTimeInterval(-22 * Self.hour)) == 1)
                let reminder = try #require(try await Self.outboxRows(platform).last)
                #expect(reminder.body.contains("tomorrow at 12:00 PM"), "\(reminder.body)")
                // Come to only at 11 PM, it would reach the customer on the day itself, saying
                // "tomorrow": not sent.
                #expect(try await outbox.runOnce(now: noon.addingTimeInterval(-13 * Self.hour)) == 1)
                #expect(try await Self.outboxRows(platform).last?.lastError == "not sent: a reminder for the day before would reach the customer on the day itself")
                #expect(fake.acceptedTexts.count == 1)
            }
        }
    }

    @Test("a text held while its business sends none waits, and is given up a day after it was due; one whose customer's number, or whose business's line, changed meanwhile goes between the numbers as they are then", arguments: TestBackend.available)
    func heldTexts(backend: TestBackend) async throws {
        try await FakeMessagingProviders.with { fake, base in
            try await TestPlatform.with(backend) { platform in
                let shop = try await Shop.open(platform)
                let outbox = OutboxTests.worker(platform, OutboxTests.settings(base: base))
                let start = Shop.tenAM(inDays: 3)
                _ = try await shop.book("detail", at: start)
                _ = try await shop.book("later", at: start.addingTimeInterval(3 * Self.hour))
                let queued = Shop.tenAM(inDays: 1)
                _ = try await platform.database.withTenant("shine") { tx in
                    try await tx.update("appointments", set: [("create_time", queued.addingTimeInterval(-Self.hour))], where: "1 = 1")
                }
                #expect(try await shop.job.runOnce(now: queued) == 2)
                _ = try await platform.setStatus("shine", .suspended)
                #expect(try await outbox.runOnce(now: queued.addingTimeInterval(60)) == 2)
                let held = try await Self.outboxRows(platform)
                #expect(held.map(\.state) == [.pending, .pending])
                #expect(held.map(\.attempts) == [0, 0])
                #expect(held.allSatisfy { $0.lastError.hasPrefix("waits while the business sends no automated texts") }, "\(held.map(\.lastError))")

                let queuedFrom = Set(held.map(\.sender))
                // Back in business, with Jane's number corrected and the shop's line on a new
                // number: the text goes to her new number from the line's, and says so.
                _ = try await platform.setStatus("shine", .active)
                _ = try await CustomerService.Client(wrapping: platform.client).updateCustomer(.with {
                    $0.customer = .with { $0.name = "tenants/shine/customers/jane"; $0.phoneNumber = "+19185550102" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                }, metadata: shop.owner)
                _ = try await PhoneConfigService.Client(wrapping: platform.client).updatePhoneConfig(.with {
                    $0.phoneConfig = .with { $0.name = "tenants/shine/phoneConfigs/main"; $0.phoneNumber = "+19185550177" }
                    $0.updateMask = .init(protoPaths: ["phone_number"])
                }, metadata: shop.owner)
                #expect(queuedFrom == ["+19185550123"], "queued from the line's number then")
                // One of the two was held past its day (queued a day earlier than the other).
                _ = try await platform.database.withTenant("shine") { tx in
                    try await tx.update("outbox_messages", set: [("create_time", queued.addingTimeInterval(-Self.day))], where: "dedupe_key LIKE '%/later@%'")
                }
                #expect(try await outbox.runOnce(now: queued.addingTimeInterval(2 * Self.hour)) == 2)
                #expect(fake.acceptedTexts.map { $0.form["To"] } == ["+19185550102"])
                #expect(fake.acceptedTexts.map { $0.form["From"] } == ["+19185550177"])
                let sent = try #require(try await Self.outboxRows(platform).first { $0.state == .delivered })
                #expect(sent.recipient == "+19185550102" && sent.sender == "+19185550177", "a customer's answer is matched by the numbers the text went between")
                let later = try #require(try await Self.outboxRows(platform).first { $0.dedupeKey?.contains("/later@") == true })
                #expect(later.state == .failed)
                #expect(later.lastError == "not sent: it could not go within a day of being due")
            }
        }
    }

    /// The tenant's automation texts in the outbox, oldest first.
    static func outboxRows(_ platform: TestPlatform) async throws -> [OutboxRecord] {
        try await platform.database.withTenant("shine") { tx in
            try await tx.base.query("SELECT * FROM outbox_messages WHERE tenant_id = 'shine' AND purpose LIKE 'automation %' ORDER BY create_time, message_id").map(OutboxRecords.record(from:))
        }
    }

    @Test("texts wait for the day where the business is, and what fell due at night goes out in the morning", arguments: TestBackend.available)
    func quietHours(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            var shop = try await Shop.open(platform)
            var logger = Logger(label: "test.automations")
            logger.logLevel = .critical
            shop = Shop(platform: platform, job: AutomationJob(database: platform.database, logger: logger))
            var chicago = Calendar(identifier: .gregorian)
            chicago.timeZone = TimeZone(identifier: "America/Chicago")!
            let threeAM = try #require(chicago.nextDate(after: Date(), matching: DateComponents(hour: 3, minute: 0), matchingPolicy: .nextTime))
            _ = try await shop.book("detail", startingIn: 3 * Self.day)
            // Booked an hour before three in the morning.
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("appointments", set: [("create_time", threeAM.addingTimeInterval(-Self.hour))], where: "appointment_id = 'detail'")
            }
            #expect(try await shop.job.runOnce(now: threeAM) == 0)
            #expect(try await shop.job.runOnce(now: threeAM.addingTimeInterval(4.9 * Self.hour)) == 0, "7:54 AM")
            #expect(try await shop.job.runOnce(now: threeAM.addingTimeInterval(5.5 * Self.hour)) == 1, "8:30 AM")
            #expect(QuietHours().allowsTexts(at: threeAM.addingTimeInterval(17.9 * Self.hour), in: chicago.timeZone), "8:54 PM")
            #expect(!QuietHours().allowsTexts(at: threeAM.addingTimeInterval(18 * Self.hour), in: chicago.timeZone), "9 PM")
        }
    }

    @Test("a customer without a name is greeted without one; an appointment created completed is reviewed if it ended within the day", arguments: TestBackend.available)
    func namelessAndHistory(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("customers", set: [("display_name", "")], where: "customer_id = 'jane'")
            }
            _ = try await shop.book("detail", startingIn: 3 * Self.day)
            #expect(try await shop.job.runOnce() == 1)
            #expect(try await shop.texts().first?.body.hasPrefix("Hi, you're booked with Shine Auto Spa for a Full Detail on ") == true)

            let imported = try await shop.appointments.createAppointment(.with {
                $0.parent = "tenants/shine"
                $0.appointment = .with {
                    $0.customer = "tenants/shine/customers/jane"
                    $0.serviceName = "Full Detail"
                    $0.startTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-30 * Self.day))
                    $0.status = .completed
                }
            }, metadata: shop.owner)
            #expect(imported.completeTime.date < Date().addingTimeInterval(-29 * Self.day), "it ended when it ended")
            #expect(try await shop.job.runOnce(now: Date().addingTimeInterval(3 * Self.hour)) == 0, "history gets no review request")
            // A job forgotten last month, closed out today: done when it ended, so no review request either.
            let forgotten = try await shop.book("forgotten", at: Date().addingTimeInterval(-30 * Self.day))
            let closed = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = forgotten.name; $0.status = .completed }
                $0.updateMask = .init(protoPaths: ["status"])
            }, metadata: shop.owner)
            #expect(closed.completeTime.date < Date().addingTimeInterval(-29 * Self.day), "\(closed.completeTime.date)")
            #expect(try await shop.job.runOnce(now: Date().addingTimeInterval(3 * Self.hour)) == 0, "closed-out history gets no review request")
            // A walk-in written up after the fact: done now, reviewed two hours on.
            let walkIn = try await shop.appointments.createAppointment(.with {
                $0.parent = "tenants/shine"
                $0.appointment = .with {
                    $0.customer = "tenants/shine/customers/jane"
                    $0.serviceName = "Full Detail"
                    $0.startTime = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-Self.hour))
                    $0.status = .completed
                }
            }, metadata: shop.owner)
            #expect(abs(walkIn.completeTime.date.timeIntervalSinceNow) < 60, "its four hours are not over yet: done now")
            #expect(try await shop.job.runOnce(now: Date().addingTimeInterval(2 * Self.hour + 120)) == 1)
            #expect(try await shop.texts().last?.purpose == "automation review_request")
        }
    }

    @Test("an automation switched off in the catalog sends nothing, and stays off when the pack is applied again", arguments: TestBackend.available)
    func switchedOff(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            let shop = try await Shop.open(platform)
            let listed = try await shop.catalog.listCatalogItems(.with { $0.parent = "tenants/shine"; $0.kind = .automation }, metadata: shop.owner)
            #expect(listed.catalogItems.map(\.name) == [
                "tenants/shine/catalogItems/automation-booking-confirmation", "tenants/shine/catalogItems/automation-reminder-24h",
                "tenants/shine/catalogItems/automation-review-request",
            ])
            let confirmation = try #require(listed.catalogItems.first)
            #expect(confirmation.displayName == "Confirm each booking by text")
            let off = try await shop.catalog.updateCatalogItem(.with {
                $0.catalogItem = .with { $0.name = confirmation.name; $0.automation = .with { $0.disabled = true } }
                $0.updateMask = .init(protoPaths: ["automation.disabled"])
            }, metadata: shop.owner)
            #expect(off.automation.disabled)
            #expect(off.edited)
            _ = try await ConciergeTests.concierge(platform).applyIndustryPack(.with {
                $0.name = "tenants/shine"
                $0.industryPack = "industryPacks/auto_detailing"
            }, metadata: shop.owner)
            let detail = Shop.tenAM(inDays: 3)
            _ = try await shop.book("detail", at: detail)
            #expect(try await shop.job.runOnce() == 0)
            #expect(try await shop.texts().isEmpty)
            // Nothing confirms bookings now, so one made inside the reminder's day is reminded.
            let soon = Shop.tenAM(inDays: 2)
            _ = try await shop.book("soon", at: soon)
            _ = try await platform.database.withTenant("shine") { tx in
                try await tx.update("appointments", set: [("create_time", soon.addingTimeInterval(-20 * Self.hour))], where: "appointment_id = 'soon'")
            }
            #expect(try await shop.job.runOnce(now: soon.addingTimeInterval(-19 * Self.hour)) == 1)
            #expect(try await shop.texts().map(\.purpose) == ["automation reminder_24h"])

            // A reminder key another automation has is taken; a bad one names its field.
            let taken = await failure {
                try await shop.catalog.createCatalogItem(.with {
                    $0.parent = "tenants/shine"
                    $0.catalogItem = .with { $0.automation = .with {
                        $0.key = "reminder_24h"; $0.displayName = "Again"; $0.trigger = .beforeAppointmentStart
                        $0.offset = .init(seconds: 3_600); $0.template = .reminder
                    } }
                }, metadata: shop.owner)
            }
            #expect(taken?.code == .alreadyExists)
            let badOffset = await failure {
                try await shop.catalog.createCatalogItem(.with {
                    $0.parent = "tenants/shine"
                    $0.catalogItem = .with { $0.automation = .with {
                        $0.key = "reminder_now"; $0.displayName = "Now"; $0.trigger = .beforeAppointmentStart; $0.template = .reminder
                    } }
                }, metadata: shop.owner)
            }
            #expect(badOffset?.fields == ["catalog_item.automation.offset"])
            // A two-hour reminder of the business's own goes out two hours ahead.
            let own = try await shop.catalog.createCatalogItem(.with {
                $0.parent = "tenants/shine"
                $0.catalogItem = .with { $0.automation = .with {
                    $0.key = "reminder_2h"; $0.displayName = "Two hours ahead"; $0.trigger = .beforeAppointmentStart
                    $0.offset = .init(seconds: 7_200); $0.template = .reminder
                } }
            }, metadata: shop.owner)
            #expect(own.name == "tenants/shine/catalogItems/automation-reminder-2h")
            #expect(try await shop.job.runOnce(now: detail.addingTimeInterval(-23 * Self.hour)) == 1, "the pack's reminder, 23 hours ahead")
            #expect(try await shop.job.runOnce(now: detail.addingTimeInterval(-1.5 * Self.hour)) == 1, "the business's own, 90 minutes ahead")
            let texts = try await shop.texts()
            #expect(texts.map(\.purpose) == ["automation reminder_24h", "automation reminder_24h", "automation reminder_2h"])
            // The pack's reminder says when from the day it is sent, whatever its lead.
            #expect(texts[1].body.contains("your Full Detail is tomorrow at "), "\(texts[1].body)")
            #expect(texts[2].body.contains("your Full Detail is today at "), "\(texts[2].body)")
        }
    }

    @Test("no automations on a plan without them, for a suspended tenant, or for texts the tenant has not given what they need", arguments: TestBackend.available)
    func heldBack(backend: TestBackend) async throws {
        try await TestPlatform.with(backend) { platform in
            // Without a time zone nothing goes out (its times and its nights are the zone's);
            // without a review link, the review request waits too.
            let shop = try await Shop.open(platform, timeZone: "", reviewURL: "")
            let booked = try await shop.book("detail", startingIn: 3 * Self.day)
            #expect(try await shop.job.runOnce() == 0)
            let completed = try await shop.appointments.updateAppointment(.with {
                $0.appointment = .with { $0.name = booked.name; $0.status = .completed }
                $0.updateMask = .init(protoPaths: ["status"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce(now: completed.completeTime.date.addingTimeInterval(3 * Self.hour)) == 0)
            _ = try await TenantService.Client(wrapping: platform.client).updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/shine"; $0.reviewURL = "https://g.page/shine/review" }
                $0.updateMask = .init(protoPaths: ["review_url"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce(now: completed.completeTime.date.addingTimeInterval(4 * Self.hour)) == 0, "still no time zone")
            // Given the time zone while the texts are still due, they go out.
            let tenants = TenantService.Client(wrapping: platform.client)
            let badZone = await failure {
                try await tenants.updateTenant(.with {
                    $0.tenant = .with { $0.name = "tenants/shine"; $0.timeZone = "CST" }
                    $0.updateMask = .init(protoPaths: ["time_zone"])
                }, metadata: shop.owner)
            }
            #expect(badZone?.fields == ["tenant.time_zone"])
            _ = try await shop.book("another", startingIn: 2 * Self.day)
            _ = try await tenants.updateTenant(.with {
                $0.tenant = .with { $0.name = "tenants/shine"; $0.timeZone = "America/Chicago" }
                $0.updateMask = .init(protoPaths: ["time_zone"])
            }, metadata: shop.owner)
            #expect(try await shop.job.runOnce() == 1, "the open booking's confirmation; the completed one's is not due")
            #expect(try await shop.job.runOnce(now: completed.completeTime.date.addingTimeInterval(5 * Self.hour)) == 1, "the review request")
            #expect(try await shop.texts().map(\.purpose).sorted() == ["automation booking_confirmation", "automation review_request"])

            _ = try await platform.setStatus("shine", .suspended)
            _ = try await shop.platform.database.withTenant("shine") { tx in
                try await tx.update("appointments", set: [("create_time", Date())], where: "appointment_id = 'another'")
            }
            try await platform.database.transaction(.platform) { tx in
                try await tx.execute("DELETE FROM outbox_messages WHERE tenant_id = 'shine'")
            }
            #expect(try await shop.job.runOnce() == 0, "a suspended tenant texts nobody")
            _ = try await platform.setStatus("shine", .active)
            _ = try await platform.setPlan("shine", .starter)
            #expect(try await shop.job.runOnce() == 0, "starter has no industry automations")
            _ = try await platform.setPlan("shine", .pro)
            #expect(try await shop.job.runOnce() == 1)
        }
    }

    @Test("a reminder says today or tomorrow by the business's calendar, else the date")
    func relativeTime() {
        // Tue 1 Dec 2026 20:30 UTC: 2:30 PM in Chicago, 9:30 PM in Berlin.
        let start = Date(timeIntervalSince1970: 1_796_157_000)
        let chicago = TimeZone(identifier: "America/Chicago")!, berlin = TimeZone(identifier: "Europe/Berlin")!
        let minute: TimeInterval = 60
        #expect(AppointmentTime.relative(start, from: start - 120 * minute, in: chicago) == "today at 2:30 PM")
        #expect(AppointmentTime.relative(start, from: start - (14 * 60 + 29) * minute, in: chicago) == "today at 2:30 PM", "12:01 AM")
        #expect(AppointmentTime.relative(start, from: start - (14 * 60 + 31) * minute, in: chicago) == "tomorrow at 2:30 PM", "11:59 PM the day before")
        #expect(AppointmentTime.relative(start, from: start - 22 * 60 * minute, in: berlin) == "tomorrow at 9:30 PM")
        #expect(AppointmentTime.relative(start, from: start - 3 * 24 * 60 * minute, in: chicago) == "on Tue, Dec 1 at 2:30 PM")
        // Days by the calendar across the night clocks went forward (Sun 8 Mar 2026, a 23-hour
        // day in Chicago): Mon 9 AM is "tomorrow" from 12:30 AM Sunday, not from 11:30 PM Saturday.
        let monday = Date(timeIntervalSince1970: 1_773_064_800)
        #expect(AppointmentTime.relative(monday, from: Date(timeIntervalSince1970: 1_772_951_400), in: chicago) == "tomorrow at 9:00 AM")
        #expect(AppointmentTime.relative(monday, from: Date(timeIntervalSince1970: 1_772_947_800), in: chicago) == "on Mon, Mar 9 at 9:00 AM")
    }

    @Test("an appointment time is written in the business's time zone, in plain characters")
    func spokenTime() {
        // Tue 1 Dec 2026 20:30 UTC.
        let start = Date(timeIntervalSince1970: 1_796_157_000)
        #expect(AppointmentTime.spoken(start, in: TimeZone(identifier: "America/Chicago")!) == "Tue, Dec 1 at 2:30 PM")
        #expect(AppointmentTime.spoken(start, in: TimeZone(identifier: "Europe/Berlin")!) == "Tue, Dec 1 at 9:30 PM")
        #expect(TimeZoneName.violation("America/Chicago", field: "f") == nil)
        #expect(TimeZoneName.violation("Mars/Olympus", field: "f") != nil)
        #expect(TimeZoneName.violation("EST", field: "f") != nil, "an abbreviation says nothing of daylight saving time")
        #expect(TimeZoneName.violation("Etc/GMT+5", field: "f") != nil, "nor does an offset")
    }
}
