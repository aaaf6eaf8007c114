import ArgumentParser
import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI

/// `spctl concierge`: the generated commands plus the hand-written `new` wizard.
struct ConciergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concierge",
        abstract: "Set businesses up completely: the concierge wizard, create, send onboarding.",
        subcommands: [ConciergeNewCommand.self] + ConciergeCommands.configuration.subcommands
    )
}

/// `spctl concierge new`: the five steps of a concierge setup. Asks for what the flags leave
/// open (with defaults, checking each answer), shows a review of what will be created, and
/// creates it. With `--no-input` it never asks: scripts pass everything as flags.
struct ConciergeNewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Set up a new business step by step: basics, plan and industry, telephony, extras, review.",
        discussion: """
            spctl concierge new                                   # asks for everything
            spctl concierge new --no-input --name "Acme Lawn" --slug acme-lawn \\
                --tier pro --industry lawn_care --telephony provision --area-code 918 --yes
            """
    )

    @OptionGroup var call: CallOptions

    @Option(help: "Business name.") var name: String?
    @Option(help: "The tenant id: lowercase letters, digits and dashes.") var slug: String?
    @Option(help: "City.") var city: String?
    @Option(name: .customLong("contact-name"), help: "Who to talk to.") var contactName: String?
    @Option(name: .customLong("contact-email"), help: "Where the onboarding email goes.") var contactEmail: String?
    @Option(name: .customLong("contact-phone"), help: "Where the onboarding text goes (E.164).") var contactPhone: String?
    @Option(name: .customLong("time-zone"), help: "Where the business works, an IANA name such as America/Chicago; its automated texts wait until it is set.") var timeZone: String?
    @Option(name: .customLong("internal-notes"), help: "Notes for platform staff; tenants never see them.") var internalNotes: String?
    @Option(help: "Plan: starter, pro or elite.") var tier: String?
    @Option(help: "Industry pack id, e.g. auto_detailing (spctl industry-packs list).") var industry: String?
    @Option(help: "Phone number: existing, provision or none.") var telephony: String?
    @Option(name: .customLong("phone-number"), help: "For --telephony existing: the number (E.164).") var phoneNumber: String?
    @Option(name: .customLong("area-code"), help: "For --telephony provision: the preferred area code.") var areaCode: String?
    @Option(name: .customLong("ivr-mode"), help: "Call handling: simple, ivr or ai-voice.") var ivrMode: String?
    @Option(name: .customLong("forward-number"), help: "Where calls are put through to (E.164).") var forwardNumber: String?
    @Option(name: .customLong("logo-url"), help: "Logo image URL (https).") var logoURL: String?
    @Option(name: .customLong("primary-color"), help: "Primary colour, #RRGGBB.") var primaryColor: String?
    @Option(name: .customLong("accent-color"), help: "Accent colour, #RRGGBB.") var accentColor: String?
    @Option(name: .customLong("booking-url"), help: "Where customers book online (https); the IVR and auto-reply text it.") var bookingURL: String?
    @Option(name: .customLong("request-id"), help: "Retries with the same id create nothing twice.") var requestID: String?
    @Flag(name: .customLong("no-input"), help: "Never ask: fail when a required value is missing (the rest take their defaults); create only with --yes.") var noInput = false
    @Flag(name: .shortAndLong, help: "Create without asking for confirmation after the review.") var yes = false

    func run() async throws {
        var ask = Prompter(interactive: !noInput)
        let packs = try await call.answer { client, metadata in
            try await IndustryPackService.Client(wrapping: client).listIndustryPacks(.with { $0.pageSize = 100 }, metadata: metadata).industryPacks
        }
        let packIDs = packs.map { String($0.name.dropFirst("industryPacks/".count)) }

        var request = CreateConciergeTenantRequest()
        request.requestID = requestID ?? UUID().uuidString
        ask.step(1, "Basics")
        request.basics.displayName = try ask.value("Business name", flag: "--name", given: name, check: Check.required)
        request.basics.slug = try ask.value("Tenant id", flag: "--slug", given: slug, default: Check.slug(from: request.basics.displayName), check: Check.slug)
        request.basics.city = try ask.value("City", flag: "--city", given: city, default: "", check: Check.optional)
        request.basics.contactName = try ask.value("Contact name", flag: "--contact-name", given: contactName, default: "", check: Check.optional)
        request.basics.contactEmail = try ask.value("Contact email", flag: "--contact-email", given: contactEmail, default: "", check: Check.email)
        request.basics.contactPhone = try ask.value("Contact phone (E.164)", flag: "--contact-phone", given: contactPhone, default: "", check: Check.e164)
        request.basics.timeZone = try ask.value("Time zone (e.g. America/Chicago)", flag: "--time-zone", given: timeZone, default: "", check: Check.timeZone)
        request.basics.internalNotes = try ask.value("Internal notes", flag: "--internal-notes", given: internalNotes, default: "", check: Check.optional)

        ask.step(2, "Plan and industry")
        let tierName = try ask.value("Plan (starter, pro, elite)", flag: "--tier", given: tier, default: "starter", check: Check.oneOf(["starter", "pro", "elite"]))
        request.plan.tier = ["starter": .starter, "pro": .pro, "elite": .elite][tierName]!
        let pack = try ask.value("Industry (\(packIDs.joined(separator: ", ")))", flag: "--industry", given: industry, default: packIDs.contains("generic") ? "generic" : packIDs.first ?? "", check: Check.oneOf(packIDs))
        request.plan.industryPack = "industryPacks/\(pack)"

        ask.step(3, "Telephony")
        let mode = try ask.value("Phone number (existing, provision, none)", flag: "--telephony", given: telephony, default: "none", check: Check.oneOf(["existing", "provision", "none"]))
        request.telephony.mode = ["existing": .useExistingNumber, "provision": .provisionNumber, "none": .noNumber][mode]!
        // A flag of another mode would go unasked and unsent: say so rather than drop it.
        let forModes: [(flag: String, given: String?, modes: [String])] = [
            ("--phone-number", phoneNumber, ["existing"]), ("--area-code", areaCode, ["provision"]),
            ("--ivr-mode", ivrMode, ["existing", "provision"]), ("--forward-number", forwardNumber, ["existing", "provision"]),
        ]
        for (flag, given, modes) in forModes where given != nil && !modes.contains(mode) {
            throw ValidationError("\(flag) is only for --telephony \(modes.joined(separator: " or ")), not \(mode)")
        }
        if mode == "existing" {
            request.telephony.phoneNumber = try ask.value("The number (E.164)", flag: "--phone-number", given: phoneNumber, check: Check.e164Required)
        }
        if mode == "provision" {
            request.telephony.areaCode = try ask.value("Preferred area code", flag: "--area-code", given: areaCode, default: "", check: Check.areaCode)
        }
        if mode != "none" {
            let ivr = try ask.value("Call handling (simple, ivr, ai-voice)", flag: "--ivr-mode", given: ivrMode, default: "simple", check: Check.oneOf(["simple", "ivr", "ai-voice"]))
            request.telephony.ivrMode = ["simple": .simple, "ivr": .ivr, "ai-voice": .aiVoice][ivr]!
            request.telephony.forwardNumber = try ask.value("Forward calls to (E.164)", flag: "--forward-number", given: forwardNumber, default: "", check: Check.e164)
        }

        ask.step(4, "Extras")
        request.extras.logoURL = try ask.value("Logo URL (https)", flag: "--logo-url", given: logoURL, default: "", check: Check.httpsURL)
        request.extras.primaryColor = try ask.value("Primary colour (#RRGGBB)", flag: "--primary-color", given: primaryColor, default: "", check: Check.colour)
        request.extras.accentColor = try ask.value("Accent colour (#RRGGBB)", flag: "--accent-color", given: accentColor, default: "", check: Check.colour)
        request.extras.bookingURL = try ask.value("Online booking URL (https)", flag: "--booking-url", given: bookingURL, default: "", check: Check.httpsURL)

        ask.step(5, "Review")
        var review = request
        review.review.validateOnly = true
        review.requestID = ""
        let checked = review
        let preview = try await call.answer { client, metadata in
            try await ConciergeService.Client(wrapping: client).createConciergeTenant(checked, metadata: metadata)
        }
        Self.describe(preview, mode: mode)
        if !yes {
            guard try ask.confirm("Create \(request.basics.displayName)?") else {
                StandardError.say("Nothing was created.")
                throw ExitCode(1)
            }
        }
        let final = request
        let created = try await call.answer { client, metadata in
            try await ConciergeService.Client(wrapping: client).createConciergeTenant(final, metadata: metadata)
        }
        if call.output == .json {
            try OutputPrinter(format: .json).print(created)
            return
        }
        print("")
        print("Created \(created.tenant.name) (\(created.tenant.displayName)), \(OutputPrinter.enumName("plan_tier", of: created.tenant)) trial until \(created.tenant.trialEndTime.date)")
        if created.hasPhoneConfig { print("Number: \(created.phoneConfig.phoneNumber) (\(created.phoneConfig.name))") }
        let summary = created.appliedPack
        print("Industry pack: \(summary.industryPack) \(summary.version): \(summary.added.count) items added, \(summary.skipped.count) skipped")
        print("Next:")
        for action in created.nextActions { print("  \(action.label):\n    \(action.command)") }
    }

    static func describe(_ preview: CreateConciergeTenantResponse, mode: String) {
        let tenant = preview.tenant
        StandardError.say("  Tenant:   \(tenant.name), \(tenant.displayName)\(tenant.city.isEmpty ? "" : ", \(tenant.city)")")
        StandardError.say("  Plan:     \(OutputPrinter.enumName("plan_tier", of: tenant)), \(OutputPrinter.enumName("status", of: tenant)), industry \(tenant.industry)")
        StandardError.say("  Zone:     \(tenant.timeZone.isEmpty ? "none: automated texts wait until one is set" : tenant.timeZone)")
        switch mode {
        case "existing": StandardError.say("  Number:   \(preview.phoneConfig.phoneNumber), \(OutputPrinter.enumName("ivr_mode", of: preview.phoneConfig))")
        case "provision": StandardError.say("  Number:   a new number will be bought, \(OutputPrinter.enumName("ivr_mode", of: preview.phoneConfig))")
        default: StandardError.say("  Number:   none for now")
        }
        if !tenant.bookingURL.isEmpty { StandardError.say("  Booking:  \(tenant.bookingURL)") }
        let kinds = Dictionary(grouping: preview.appliedPack.added.map { OutputPrinter.enumName("kind", of: $0) }, by: { $0 })
            .map { "\($0.value.count) \($0.key)" }.sorted()
        StandardError.say("  Pack:     \(preview.appliedPack.industryPack): \(kinds.joined(separator: ", "))")
        if !preview.appliedPack.skipped.isEmpty {
            let skipped = preview.appliedPack.skipped.map {
                "\(OutputPrinter.enumName("kind", of: $0)) \($0.key) (\(OutputPrinter.enumName("skip_reason", of: $0)))"
            }
            StandardError.say("  Skipped:  \(skipped.joined(separator: "; "))")
        }
    }
}

/// Asks on the terminal, one line per answer, and re-asks until an answer passes its check.
struct Prompter {
    let interactive: Bool

    func step(_ number: Int, _ title: String) {
        guard interactive else { return }
        StandardError.say("\nStep \(number) of 5: \(title)")
    }

    /// The value of `flag` if given (checked), else the answer to a prompt, else the default.
    mutating func value(_ label: String, flag: String, given: String?, default fallback: String? = nil, check: (String) -> String?) throws -> String {
        if let given {
            if let problem = check(given) { throw ValidationError("\(flag): \(problem)") }
            return given
        }
        guard interactive else {
            if let fallback, check(fallback) == nil { return fallback }
            throw ValidationError("\(label) is required: pass \(flag), or drop --no-input to be asked")
        }
        while true {
            let suffix = fallback.map { $0.isEmpty ? " []" : " [\($0)]" } ?? ""
            StandardError.say("  \(label)\(suffix): ", terminator: "")
            guard let line = readLine() else { throw CommandFailure("input ended before \(label) was answered; pass \(flag), or run with --no-input and every value as a flag") }
            let answer = line.trimmingCharacters(in: .whitespaces)
            let value = answer.isEmpty ? (fallback ?? "") : answer
            if let problem = check(value) {
                StandardError.say("    \(problem)")
                continue
            }
            return value
        }
    }

    func confirm(_ question: String) throws -> Bool {
        // Nobody to ask: a script says --yes, or nothing is created.
        guard interactive else { throw CommandFailure("nothing was created: with --no-input, pass --yes to create after the review") }
        StandardError.say("\(question) [Y/n]: ", terminator: "")
        guard let line = readLine() else { return false }
        return ["", "y", "yes"].contains(line.trimmingCharacters(in: .whitespaces).lowercased())
    }
}

/// Checks of wizard answers: nil when fine, else what is wrong, said so the operator can fix it.
enum Check {
    static func required(_ value: String) -> String? { value.trimmingCharacters(in: .whitespaces).isEmpty ? "is required" : nil }
    static func optional(_ value: String) -> String? { nil }

    static func matches(_ value: String, _ pattern: String) -> Bool {
        value.range(of: "^(\(pattern))$", options: .regularExpression) != nil
    }

    static func slug(_ value: String) -> String? {
        matches(value, "[a-z0-9][a-z0-9-]{1,62}") ? nil : "use 2–63 lowercase letters, digits and dashes, e.g. acme-lawn"
    }

    static func slug(from name: String) -> String {
        let dashed = name.lowercased().map { $0.isLetter && $0.isASCII || $0.isNumber ? $0 : "-" }
        return String(String(dashed).split(separator: "-").joined(separator: "-").prefix(63))
    }

    static func email(_ value: String) -> String? {
        value.isEmpty || matches(value, "[^@\\s]+@[^@\\s]+\\.[^@\\s]+") ? nil : "is not an email address"
    }

    static func e164(_ value: String) -> String? {
        value.isEmpty || matches(value, "\\+[1-9][0-9]{7,14}") ? nil : "use E.164, e.g. +19185550100"
    }

    static func e164Required(_ value: String) -> String? { value.isEmpty ? "is required" : e164(value) }

    /// A region's IANA name; the platform checks it in full at the review.
    static func timeZone(_ value: String) -> String? {
        value.isEmpty || value.contains("/") && TimeZone(identifier: value) != nil ? nil : "use an IANA time zone name, e.g. America/Chicago"
    }

    static func areaCode(_ value: String) -> String? {
        value.isEmpty || matches(value, "[2-9][0-9]{2}") ? nil : "use three digits, e.g. 918"
    }

    static func httpsURL(_ value: String) -> String? {
        value.isEmpty || matches(value, "https://[^\\s]+") ? nil : "use an https:// URL"
    }

    static func colour(_ value: String) -> String? {
        value.isEmpty || matches(value, "#[0-9A-Fa-f]{6}") ? nil : "use #RRGGBB, e.g. #1E88E5"
    }

    static func oneOf(_ choices: [String]) -> (String) -> String? {
        { choices.contains($0) ? nil : "choose one of \(choices.joined(separator: ", "))" }
    }
}
