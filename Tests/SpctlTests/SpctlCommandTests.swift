import Foundation
import PlatformServer
import PlatformTestSupport
import RPCRuntime
import ServiceProAPI
import Testing

/// The real spctl binary against a real platform, as an operator uses it.
@Suite("spctl")
struct SpctlCommandTests {
    /// Runs spctl with its own config directory, so nothing of the developer's leaks in.
    struct Spctl {
        let configHome: URL

        init() throws {
            configHome = FileManager.default.temporaryDirectory.appendingPathComponent("spctl-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: configHome, withIntermediateDirectories: true)
        }

        func callAsFunction(_ arguments: String..., environment: [String: String] = [:]) async throws -> PythonOracle.Result {
            try await run(arguments, environment: environment)
        }

        func run(
            _ arguments: [String], environment: [String: String] = [:], separatingStandardError: Bool = false, in directory: URL? = nil
        ) async throws -> PythonOracle.Result {
            try await ProcessRunner.run(
                RepositoryPaths.executable("spctl").path, arguments,
                environment: ["XDG_CONFIG_HOME": configHome.path, "SPCTL_SERVER": "", "SPCTL_TOKEN": ""].merging(environment) { $1 },
                separatingStandardError: separatingStandardError, in: directory)
        }
    }

    @Test("generated commands list, create and get; -o json is JSON")
    func resourceCommands() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            let auth = ["--server", platform.address, "--token", platform.ownerToken]
            let list = try await spctl("tenants", "list", auth[0], auth[1], auth[2], auth[3])
            #expect(list.status == 0, "\(list.output)")
            #expect(list.output.contains("Clean Machine"))
            // Columns in the proto's order, enums by their short names, times to the second, no etag.
            let lines = list.output.split(separator: "\n")
            #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == ["NAME", "SLUG", "DISPLAY_NAME"], "\(list.output)")
            #expect(!list.output.contains("ETAG"))
            let root = lines.first { $0.hasPrefix("tenants/root") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) } ?? []
            #expect(root.contains("elite") && root.contains("active"), "\(root)")
            #expect(root.contains { $0.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil }, "\(root)")

            let created = try await spctl("tenants", "create", "--tenant-id", "acme", "--tenant.display-name", "Acme Lawn",
                                         "--tenant.contact.phone", "+19185550100", "-o", "json", auth[0], auth[1], auth[2], auth[3])
            #expect(created.status == 0, "\(created.output)")
            // A secret the platform keeps only hashed: stdout has the result, stderr says to keep it now.
            let key = try await spctl.run(["api-keys", "create", "--parent", "tenants/acme", "--display-name", "Front desk", "--role", "tenant-admin"] + auth,
                                          separatingStandardError: true)
            #expect(key.status == 0, "\(key.errors)")
            #expect(key.output.contains("sp_") && !key.output.contains("shown this once"), "\(key.output)")
            #expect(key.errors.contains("note: the token is shown this once"), "\(key.errors)")
            let json = try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any]
            #expect(json?["name"] as? String == "tenants/acme")
            #expect((json?["contact"] as? [String: Any])?["phone"] as? String == "+19185550100")

            let whole = try await spctl("tenants", "update", "--json", #"{"tenant":{"name":"tenants/acme","city":"Tulsa"},"update_mask":"city"}"#,
                                       "--tenant.display-name", "Acme Lawn & Garden", "--update-mask", "city,display_name",
                                       auth[0], auth[1], auth[2], auth[3])
            #expect(whole.status == 0, "\(whole.output)")
            #expect(whole.output.contains("Acme Lawn & Garden"))
            #expect(whole.output.contains("Tulsa"))
            // No mask: the fields whose flags are given are the ones changed, and no other.
            let inferred = try await spctl("tenants", "update", "--tenant.name", "tenants/acme", "--tenant.city", "Broken Arrow",
                                          "--tenant.contact.email", "office@acme.example", "-o", "json", auth[0], auth[1], auth[2], auth[3])
            #expect(inferred.status == 0, "\(inferred.output)")
            let updated = try JSONSerialization.jsonObject(with: Data(inferred.output.utf8)) as? [String: Any]
            #expect(updated?["city"] as? String == "Broken Arrow")
            #expect((updated?["contact"] as? [String: Any])?["email"] as? String == "office@acme.example")
            #expect((updated?["contact"] as? [String: Any])?["phone"] as? String == "+19185550100", "the rest of contact kept")
            #expect(updated?["display_name"] as? String == "Acme Lawn & Garden")
            // A request given as JSON keeps its own mask, or gets none.
            let unmasked = try await spctl("tenants", "update", "--json", #"{"tenant":{"name":"tenants/acme","city":"Tulsa"}}"#, auth[0], auth[1], auth[2], auth[3])
            #expect(unmasked.status != 0 && unmasked.output.contains("update_mask"), "\(unmasked.output)")

            // A table's columns are as wide as their widest cell in characters, emoji included:
            // the widest display name prints whole, and the next column starts after it.
            let emoji = try await spctl("tenants", "update", "--tenant.name", "tenants/acme", "--tenant.display-name", "Acme Lawn 🌱 & Garden Co",
                                        "--update-mask", "display_name", auth[0], auth[1], auth[2], auth[3])
            #expect(emoji.status == 0, "\(emoji.output)")
            let table = try await spctl("tenants", "list", auth[0], auth[1], auth[2], auth[3])
            let row = try #require(table.output.split(separator: "\n").first { $0.hasPrefix("tenants/acme") })
            #expect(row.contains("Acme Lawn 🌱 & Garden Co   "), "\(row)")

            // Whatever a value holds, each tenant keeps to its row, and every page has the columns
            // of the first: a value someone typed cannot make a row of its own, or colour a terminal.
            let note = "line one\ntenants/forged   Forged Co\t\u{1B}[31mred" + String(repeating: " and more", count: 20)
            let noted = try await spctl("tenants", "update", "--tenant.name", "tenants/acme", "--tenant.internal-notes", note,
                                        "--update-mask", "internal_notes", auth[0], auth[1], auth[2], auth[3])
            #expect(noted.status == 0, "\(noted.output)")
            let firstPage = try await spctl("tenants", "list", "--page-size", "1", "-o", "json", auth[0], auth[1], auth[2], auth[3])
            let token = try #require((try JSONSerialization.jsonObject(with: Data(firstPage.output.utf8)) as? [String: Any])?["next_page_token"] as? String)
            let headers = try await [
                spctl("tenants", "list", "--page-size", "1", auth[0], auth[1], auth[2], auth[3]),
                spctl("tenants", "list", "--page-size", "1", "--page-token", token, auth[0], auth[1], auth[2], auth[3]),
            ].map { $0.output.split(separator: "\n").first?.split(separator: " ") }
            #expect(headers[0] == headers[1], "\(headers)")
            let listed = try await spctl("tenants", "list", auth[0], auth[1], auth[2], auth[3]).output
            #expect(!listed.split(separator: "\n").contains { $0.hasPrefix("tenants/forged") }, "\(listed)")
            #expect(!listed.contains("\u{1B}"))
            #expect(listed.contains(#"line one\ntenants/forged"#))
            #expect(listed.contains("…"), "a long note is cut short in a listing")
            // Cut in the middle: a method's path still ends with its method.
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"; $0.phoneConfig = .with { $0.phoneNumber = "+19185550177" }
            }, metadata: platform.metadata(platform.ownerToken))
            let audit = try await spctl("audit", "list", "--parent", "tenants/acme", auth[0], auth[1], auth[2], auth[3]).output
            #expect(audit.contains("…") && audit.contains("Service/CreatePhoneConfig"), "\(audit)")

            // An answer with nothing in it says the call went through.
            let deleted = try await spctl("tenants", "delete", "--name", "tenants/acme", auth[0], auth[1], auth[2], auth[3])
            #expect(deleted.status == 0, "\(deleted.output)")
            #expect(deleted.output == "Done.\n", "\(deleted.output)")
        }
    }

    @Test("billing: show plan, status and features; change the plan; override the status with a reason")
    func billingCommands() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme")
            let spctl = try Spctl()
            let auth = ["--server", platform.address, "--token", platform.ownerToken]
            let billing = ["--name", "tenants/acme/billing"]
            let shown = try await spctl.run(["billing", "get"] + billing + auth)
            #expect(shown.status == 0, "\(shown.output)")
            // Enum values print as the short names flags take.
            let record = Self.fieldTable(shown.output)
            #expect(record["tier"] == "starter")
            #expect(record["status"] == "trialing")
            #expect(record["features"] == "sms,call-forwarding,data-export")

            let plans = try await spctl.run(["plans", "list"] + auth)
            #expect(plans.output.contains("plans/elite"))
            #expect(plans.output.contains("FEATURES") && plans.output.contains("ai-voice"), "a listing shows its lists of values")

            let upgraded = try await spctl.run(["billing", "change-plan", "--tier", "pro"] + billing + auth)
            #expect(upgraded.status == 0, "\(upgraded.output)")
            #expect(Self.fieldTable(upgraded.output)["billing.tier"] == "pro")
            #expect(Self.fieldTable(upgraded.output)["applied_directly"] == "true", "booleans read as booleans")
            #expect(Self.fieldTable(upgraded.output)["billing.features"]?.split(separator: ",").contains("ivr") == true)

            let suspended = try await spctl.run(["billing", "set-status", "--status", "suspended", "--reason", "card expired"] + billing + auth)
            #expect(suspended.status == 0, "\(suspended.output)")
            #expect(suspended.output.contains("card expired"))
            #expect(!suspended.output.contains("retention_end_time"), "a suspension starts no retention window: \(suspended.output)")

            let invalid = try await spctl.run(["billing", "set-status", "--status", "trialing", "--reason", "again"] + billing + auth)
            #expect(invalid.status != 0)
            #expect(invalid.output.contains("invalid_status_transition"))
            #expect(invalid.output.contains("valid next statuses: active, cancelled, past_due"))
            // The names the error gives are taken as they are written.
            let pastDue = try await spctl.run(["billing", "set-status", "--status", "past_due", "--reason", "card declined"] + billing + auth)
            #expect(pastDue.status == 0, "\(pastDue.output)")
            #expect(Self.fieldTable(pastDue.output)["status"] == "past-due", "\(pastDue.output)")
            // Only a cancellation starts the window at whose end the tenant's data goes.
            let cancelled = try await spctl.run(["billing", "set-status", "--status", "cancelled", "--reason", "closed the business"] + billing + auth)
            #expect(cancelled.status == 0, "\(cancelled.output)")
            #expect(Self.fieldTable(cancelled.output)["status"] == "cancelled", "\(cancelled.output)")
            #expect(Self.fieldTable(cancelled.output)["retention_end_time"]?.isEmpty == false, "\(cancelled.output)")
        }
    }

    @Test("export: start, status and a download that resumes, shows progress and checks the SHA-256")
    func exportCommands() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme")
            try await platform.database.withTenant("acme") { tx in
                for index in 0..<50 {
                    try await tx.insert(into: "text_messages", [
                        ("message_id", "m\(index)"), ("message_sid", "SM" + String(format: "%032x", index)), ("direction", "inbound"),
                        ("from_number", "+15550001111"), ("to_number", "+19185550100"), ("body", "hello \(index)"),
                        ("status", "received"), ("create_time", Date()), ("update_time", Date()),
                    ])
                }
            }
            let spctl = try Spctl()
            let auth = ["--server", platform.address, "--token", platform.ownerToken]
            let started = try await spctl.run(["export", "start", "acme", "--entity", "messages", "--entity", "calls", "-o", "json"] + auth)
            #expect(started.status == 0, "\(started.output)")
            let job = try JSONSerialization.jsonObject(with: Data(started.output.utf8)) as? [String: Any]
            let name = try #require(job?["name"] as? String)
            #expect(job?["state"] as? String == "EXPORT_JOB_STATE_PENDING")
            let unknown = try await spctl.run(["export", "start", "acme", "--entity", "boats"] + auth)
            #expect(unknown.status != 0)
            #expect(unknown.output.contains("unknown entity \"boats\""))

            let early = try await spctl.run(["export", "download", name, "--to", spctl.configHome.appendingPathComponent("early.zip").path] + auth)
            #expect(early.status != 0)
            #expect(early.output.contains("export_not_ready"), "the server's reason, not a checksum: \(early.output)")
            #expect(!FileManager.default.fileExists(atPath: spctl.configHome.appendingPathComponent("early.zip.part").path), "nothing written")

            try await platform.exportWorker().runOnce()
            let status = try await spctl.run(["export", "status", name, "--wait"] + auth)
            #expect(status.status == 0, "\(status.output)")
            #expect(Self.fieldTable(status.output)["state"] == "succeeded")
            #expect(status.output.contains("exporting [##############################] 100%"))
            // Counts read as counts, none included (JSON leaves a zero out).
            #expect(status.output.contains("entity=messages count=50"), "\(status.output)")
            #expect(status.output.contains("entity=calls count=0"), "\(status.output)")

            // The raw stream honours -o like every command: a table of fields per chunk, or JSON.
            let chunks = try await spctl.run(["exports", "download", "--name", name] + auth)
            #expect(chunks.status == 0)
            #expect(Self.fieldTable(chunks.output)["total_size"] != nil && !chunks.output.hasPrefix("{"), "\(chunks.output.prefix(300))")
            let chunksJSON = try await spctl.run(["exports", "download", "--name", name, "-o", "json"] + auth)
            #expect(chunksJSON.output.hasPrefix("{"), "\(chunksJSON.output.prefix(300))")

            let directory = spctl.configHome
            let whole = directory.appendingPathComponent("whole.zip").path
            let downloaded = try await spctl.run(["export", "download", name, "--to", whole] + auth)
            #expect(downloaded.status == 0, "\(downloaded.output)")
            #expect(downloaded.output.contains("verified"))
            #expect(downloaded.output.contains("downloading ["))
            let archive = try Data(contentsOf: URL(fileURLWithPath: whole))
            // A file already there is replaced only when asked.
            let again = try await spctl.run(["export", "download", name, "--to", whole] + auth)
            #expect(again.status == 1 && again.output.contains("error: \(whole) already exists; pass --clobber"), "\(again.output)")
            #expect(try await spctl.run(["export", "download", name, "--to", whole, "--clobber"] + auth).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: whole)) == archive)
            let mode = try FileManager.default.attributesOfItem(atPath: whole)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600, "customer data is its owner's to read")
            let asJSON = try await spctl.run(
                ["export", "download", name, "--to", directory.appendingPathComponent("json.zip").path, "-o", "json"] + auth, separatingStandardError: true)
            #expect(asJSON.status == 0, "\(asJSON.errors)")
            let saved = try JSONSerialization.jsonObject(with: Data(asJSON.output.utf8)) as? [String: Any]
            #expect(saved?["path"] as? String == directory.appendingPathComponent("json.zip").path)
            #expect((saved?["sha256"] as? String)?.count == 64)
            #expect(asJSON.errors.contains("downloading ["), "progress stays on stderr")
            let nowhere = try await spctl.run(["export", "download", name, "--to", "/nonexistent-dir/acme.zip"] + auth)
            #expect(nowhere.status == 1, "a failure, not a usage error: \(nowhere.output)")
            #expect(nowhere.output.contains("error: cannot create /nonexistent-dir/acme.zip.part"))
            #expect(!nowhere.output.contains("USAGE"))

            // A download that broke off resumes from what it saved.
            let resumed = directory.appendingPathComponent("resumed.zip").path
            try archive.prefix(archive.count / 2).write(to: URL(fileURLWithPath: resumed + ".part"))
            let finished = try await spctl.run(["export", "download", name, "--to", resumed] + auth)
            #expect(finished.status == 0, "\(finished.output)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: resumed)) == archive)

            // A partial file that was damaged is caught by the checksum and removed.
            let damaged = directory.appendingPathComponent("damaged.zip").path
            var prefix = Data(archive.prefix(archive.count / 2))
            prefix[10] ^= 0xFF
            try prefix.write(to: URL(fileURLWithPath: damaged + ".part"))
            let refused = try await spctl.run(["export", "download", name, "--to", damaged] + auth)
            #expect(refused.status != 0)
            #expect(refused.output.contains("SHA-256"))
            #expect(!FileManager.default.fileExists(atPath: damaged + ".part"))
            #expect(!FileManager.default.fileExists(atPath: damaged))

            // A partial file that already holds everything is still checked: damaged, it is refused.
            let complete = directory.appendingPathComponent("complete.zip").path
            var whole2 = archive
            whole2[10] ^= 0xFF
            try whole2.write(to: URL(fileURLWithPath: complete + ".part"))
            let unchecked = try await spctl.run(["export", "download", name, "--to", complete] + auth)
            #expect(unchecked.status != 0, "\(unchecked.output)")
            #expect(unchecked.output.contains("SHA-256"))
            // One longer than the archive cannot be part of it: it starts over.
            let longer = directory.appendingPathComponent("longer.zip").path
            try (archive + Data([1, 2, 3])).write(to: URL(fileURLWithPath: longer + ".part"))
            let restarted = try await spctl.run(["export", "download", name, "--to", longer] + auth)
            #expect(restarted.status == 0, "\(restarted.output)")
            #expect(restarted.output.contains("starting over"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: longer)) == archive)
        }
    }

    @Test("concierge new: the wizard asks through a terminal, checks answers, reviews, then creates", .enabled(if: PythonOracle.python != nil))
    func conciergeWizard() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            // A person at a terminal: a bad answer is asked again, defaults are taken with Enter.
            let script: [[String]] = [
                ["Business name: ", "Shine Auto Spa"],
                ["Tenant id [shine-auto-spa]: ", ""],
                ["City []: ", "Tulsa"],
                ["Contact name []: ", "Dana"],
                ["Contact email []: ", "not-an-email"],
                ["is not an email address", "dana@shine.example"],
                ["Contact phone (E.164) []: ", "+19185550999"],
                ["Time zone (e.g. America/Chicago) []: ", "Central"],
                ["use an IANA time zone name", "America/Chicago"],
                ["Internal notes []: ", "Met at the Tulsa car show"],
                ["Plan (starter, pro, elite) [starter]: ", "pro"],
                ["[generic]: ", "auto_detailing"],
                ["Phone number (existing, provision, none) [none]: ", "existing"],
                ["The number (E.164): ", "+19185550123"],
                ["Call handling (simple, ivr, ai-voice) [simple]: ", "ivr"],
                ["Forward calls to (E.164) []: ", ""],
                ["Logo URL (https) []: ", ""],
                ["Primary colour (#RRGGBB) []: ", "blue"],
                ["use #RRGGBB", "#1E88E5"],
                ["Accent colour (#RRGGBB) []: ", ""],
                ["Online booking URL (https) []: ", "http://shine.example/book"],
                ["use an https:// URL", "https://shine.example/book"],
                ["Create Shine Auto Spa? [Y/n]: ", "y"],
            ]
            let scriptJSON = String(decoding: try JSONSerialization.data(withJSONObject: script), as: UTF8.self)
            let driven = try await PythonOracle.run(
                script: "drive_terminal.py",
                arguments: [scriptJSON, "--", RepositoryPaths.executable("spctl").path, "concierge", "new",
                            "--server", platform.address, "--token", platform.ownerToken],
                environment: ["XDG_CONFIG_HOME": spctl.configHome.path])
            #expect(driven.status == 0, "\(driven.output)")
            #expect(driven.output.contains("Step 5 of 5: Review"))
            #expect(driven.output.contains("Tenant:   tenants/shine-auto-spa, Shine Auto Spa, Tulsa"))
            #expect(driven.output.contains("Booking:  https://shine.example/book"))
            #expect(driven.output.contains("Created tenants/shine-auto-spa"))
            #expect(driven.output.contains("Number: +19185550123"))
            #expect(driven.output.contains("spctl impersonate shine-auto-spa"))
            #expect(driven.output.contains("exit=0"))
            let tenant = try await platform.tenants(platform.ownerToken).getTenant(.with { $0.name = "tenants/shine-auto-spa" })
            #expect(tenant.industry == "auto_detailing")
            #expect(tenant.branding.primaryColor == "#1E88E5")
            #expect(tenant.bookingURL == "https://shine.example/book")
            #expect(tenant.timeZone == "America/Chicago")
            #expect(tenant.internalNotes == "Met at the Tulsa car show")
            #expect(driven.output.contains("Zone:     America/Chicago"))
            #expect(!driven.output.contains("--tenant.time-zone"), "no time zone to set afterwards")
        }
    }

    @Test("concierge new runs from flags alone for scripts, and refuses what is missing or wrong")
    func conciergeWizardFromFlags() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            let auth = ["--server", platform.address, "--token", platform.ownerToken]
            let created = try await spctl.run([
                "concierge", "new", "--no-input", "--yes", "--name", "Green Acres Lawn", "--slug", "green-acres",
                "--tier", "starter", "--industry", "lawn_care", "--telephony", "none", "--time-zone", "America/Denver",
                "--contact-email", "owner@greenacres.example", "--contact-phone", "+19185550177",
            ] + auth)
            #expect(created.status == 0, "\(created.output)")
            #expect(created.output.contains("Created tenants/green-acres"))
            #expect(created.output.contains("industryPacks/lawn_care"))
            #expect(!created.output.contains("Step 1 of 5"), "no prompts without a terminal conversation")
            // The commands it suggests next run as printed, ready to paste by a logged-in operator.
            let suggested = created.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("spctl ") }
            #expect(suggested.count == 3)
            let login = try await spctl.run(["login"] + auth)
            #expect(login.status == 0, "\(login.output)")
            for command in suggested.reversed() {  // impersonating last: its session cannot mint login links
                let ran = try await spctl.run(Self.shellWords(String(command.dropFirst("spctl ".count))))
                #expect(ran.status == 0, "\(command): \(ran.output)")
            }

            let scripted = try await spctl.run([
                "concierge", "new", "--no-input", "--yes", "--name", "Blue Sky Pets", "--telephony", "none", "-o", "json",
            ] + auth, separatingStandardError: true)
            #expect(scripted.status == 0, "\(scripted.errors)")
            let response = try JSONSerialization.jsonObject(with: Data(scripted.output.utf8)) as? [String: Any]
            #expect((response?["tenant"] as? [String: Any])?["name"] as? String == "tenants/blue-sky-pets", "stdout is the response alone")
            #expect(scripted.errors.contains("Tenant:   tenants/blue-sky-pets"), "the review goes to stderr")
            #expect(scripted.errors.contains("Zone:     none: automated texts wait until one is set"))
            let offered = (response?["next_actions"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }
            #expect(offered?.first == "CONCIERGE_NEXT_ACTION_KIND_SET_TIME_ZONE", "\(String(describing: offered))")

            let unconfirmed = try await spctl.run(["concierge", "new", "--no-input", "--name", "Unasked Co", "--telephony", "none"] + auth)
            #expect(unconfirmed.status == 1)
            #expect(unconfirmed.output.contains("with --no-input, pass --yes"), "\(unconfirmed.output)")
            let tenants = try await spctl.run(["tenants", "list"] + auth)
            #expect(!tenants.output.contains("unasked-co"), "nothing was created")

            let missing = try await spctl.run(["concierge", "new", "--no-input", "--yes", "--slug", "nameless"] + auth)
            #expect(missing.status != 0)
            #expect(missing.output.contains("Business name is required: pass --name"), "the flag to give is named")
            let wrong = try await spctl.run(["concierge", "new", "--no-input", "--yes", "--name", "X Co", "--tier", "platinum"] + auth)
            #expect(wrong.status != 0)
            #expect(wrong.output.contains("--tier: choose one of starter, pro, elite"), "\(wrong.output)")
            let misplaced = try await spctl.run(["concierge", "new", "--no-input", "--yes", "--name", "X Co", "--telephony", "none", "--forward-number", "+19185550100"] + auth)
            #expect(misplaced.status != 0)
            #expect(misplaced.output.contains("--forward-number is only for --telephony existing or provision, not none"), "\(misplaced.output)")
            let zoneless = try await spctl.run(["concierge", "new", "--no-input", "--yes", "--name", "X Co", "--time-zone", "CST"] + auth)
            #expect(zoneless.status != 0)
            #expect(zoneless.output.contains("--time-zone: use an IANA time zone name, e.g. America/Chicago"), "\(zoneless.output)")
            let taken = try await spctl.run([
                "concierge", "new", "--no-input", "--yes", "--name", "Green Acres Lawn", "--slug", "green-acres", "--telephony", "none",
            ] + auth)
            #expect(taken.status != 0)
            #expect(taken.output.contains("ALREADY_EXISTS"))
        }
    }

    /// A `FIELD  VALUE` table as a dictionary.
    static func fieldTable(_ output: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let gap = line.range(of: "   ") else { continue }
            fields[String(line[..<gap.lowerBound])] = line[gap.upperBound...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    /// `a "b c" d` → `["a", "b c", "d"]`: what a shell makes of a pasted command.
    static func shellWords(_ command: String) -> [String] {
        var words: [String] = []
        var word = ""
        var quoted = false
        for character in command {
            switch character {
            case "\"": quoted.toggle()
            case " " where !quoted:
                if !word.isEmpty { words.append(word) }
                word = ""
            default: word.append(character)
            }
        }
        if !word.isEmpty { words.append(word) }
        return words
    }

    @Test("hand-written commands build their requests from flags: --json is refused, not ignored")
    func handWrittenCommandsTakeNoJSON() async throws {
        let spctl = try Spctl()
        for command in [["export", "start", "acme"], ["concierge", "new"]] {
            let refused = try await spctl.run(command + ["--json", #"{"entities":["EXPORT_ENTITY_CALLS"]}"#])
            #expect(refused.status != 0)
            #expect(refused.output.contains("--json"), "\(refused.output)")
        }
        let generated = try await spctl("tenants", "list", "--help")
        #expect(generated.output.contains("--json-file"), "generated commands still take a whole request")
        let create = try await spctl("tenants", "create", "--help")
        #expect(create.output.contains("--tenant.display-name"))
        #expect(!create.output.contains("--tenant.create-time"), "no flag for what the server sets")
        #expect(!create.output.contains("--tenant.name") && !create.output.contains("--tenant.etag"), "a new tenant's name and etag are the server's")
        // A field set once, when its resource is made: a create takes it, an update does not offer it.
        #expect(try await spctl("catalog-items", "create", "--help").output.contains("--catalog-item.service.name"))
        #expect(!(try await spctl("catalog-items", "update", "--help").output.contains("--catalog-item.service.name")))
        #expect(!(try await spctl("appointments", "update", "--help").output.contains("--appointment.customer")))
        let revoke = try await spctl("api-keys", "revoke", "--help")
        #expect(revoke.output.split(whereSeparator: \.isWhitespace).joined(separator: " ").contains("(true or false)"),
                "a yes-or-no flag says how to write it: \(revoke.output)")
        #expect(!create.output.contains("--tenant.slug"), "the slug is the tenant id")

        // A request found wrong while the command runs is explained in words, with the usage of
        // the command that took it.
        let misspelt = try await spctl("tenants", "create", "--tenant-id", "acme", "--json", #"{"tenant":{"display_nme":"Acme"}}"#)
        #expect(misspelt.status == 64)
        #expect(misspelt.output.contains(#"it has no field "display_nme""#), "\(misspelt.output)")
        #expect(misspelt.output.contains("Usage: spctl tenants create"), "\(misspelt.output)")
        #expect(misspelt.output.contains("See 'spctl tenants create --help'"), "\(misspelt.output)")
        let shortEnum = try await spctl("tenants", "create", "--tenant-id", "acme", "--json", #"{"tenant":{"plan_tier":"pro"}}"#)
        #expect(shortEnum.status == 64)
        #expect(shortEnum.output.contains(#"JSON takes the proto's, like "PLAN_TIER_PRO""#), "\(shortEnum.output)")
        let vague = try await spctl("appointments", "create", "--parent", "tenants/acme", "--appointment.start-time", "tomorrow")
        #expect(vague.status == 64)
        #expect(vague.output.contains("is not an RFC 3339 time"), "\(vague.output)")
        #expect(vague.output.contains("Usage: spctl appointments create"), "\(vague.output)")
    }

    @Test("set-context: a CA file means TLS, and --tls false drops it; a CA file that cannot be read is refused")
    func setContextTLS() async throws {
        let spctl = try Spctl()
        let caFile = spctl.configHome.appendingPathComponent("ca.pem").path
        try Data("-----BEGIN CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: caFile))
        let missing = try await spctl("config", "set-context", "prod", "--server", "platform.example:443", "--ca-file", "/nonexistent/ca.pem")
        #expect(missing.status != 0)
        #expect(missing.output.contains("cannot read --ca-file /nonexistent/ca.pem"), "\(missing.output)")
        let saved = try await spctl("config", "set-context", "prod", "--server", "platform.example:443", "--ca-file", caFile)
        #expect(saved.status == 0, "\(saved.output)")
        #expect(try spctl.contexts().contexts["prod"]?.tls == true)
        let plain = try await spctl("config", "set-context", "prod", "--tls", "false")
        #expect(plain.status == 0, "\(plain.output)")
        let context = try spctl.contexts().contexts["prod"]
        #expect(context?.tls == false)
        #expect(context?.caFile == nil)
        let contradictory = try await spctl("config", "set-context", "prod", "--tls", "false", "--ca-file", caFile)
        #expect(contradictory.status != 0)
        #expect(contradictory.output.contains("--ca-file is for TLS"), "\(contradictory.output)")
    }

    @Test("a server named by flag does not take the current context's TLS; --tls asks for it")
    func serverFlagBringsItsOwnTLS() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            // The current context is a production one, over TLS.
            let contexts = ClientContexts(currentContext: "prod", contexts: [
                "prod": .init(server: "platform.example:443", token: platform.ownerToken, tls: true),
            ])
            try contexts.save(to: spctl.configHome.appendingPathComponent("spctl/config.json").path)
            let plain = try await spctl("tenants", "list", "--server", platform.address, "--token", platform.ownerToken)
            #expect(plain.status == 0, "\(plain.output)")
            let viaEnvironment = try await spctl.run(["tenants", "list"], environment: ["SPCTL_SERVER": platform.address, "SPCTL_TOKEN": platform.ownerToken])
            #expect(viaEnvironment.status == 0, "\(viaEnvironment.output)")
            // Asked for TLS, a plaintext server cannot answer.
            let tls = try await spctl("tenants", "list", "--server", platform.address, "--token", platform.ownerToken, "--tls")
            #expect(tls.status != 0)
            #expect(tls.output.contains("This command connected with TLS (from --tls"), "\(tls.output)")
            // Nor does the context's token go to another server: without --token, no credential.
            let anonymous = try await spctl("tenants", "list", "--server", platform.address)
            #expect(anonymous.status != 0)
            #expect(anonymous.output.contains("UNAUTHENTICATED"), "\(anonymous.output)")
        }
    }

    @Test("errors print code, message, reason and fields on stderr and exit non-zero")
    func errors() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            let bad = try await spctl("tenants", "get", "--name", "Tenants/BAD", "--server", platform.address, "--token", platform.ownerToken)
            #expect(bad.status != 0)
            #expect(bad.output.contains("error: INVALID_ARGUMENT: name: must match"), "\(bad.output)")
            #expect(!bad.output.contains("field name:"), "said once: \(bad.output)")

            let endless = try await spctl("login-links", "create", "--parent", "tenants/root", "--role", "tenant-admin", "--ttl", "9999999999999999h",
                                          "--server", platform.address, "--token", platform.ownerToken)
            #expect(endless.status != 0)
            #expect(endless.output.contains("longer than any duration can be"), "\(endless.output)")

            let unread = try await spctl("tenants", "create", "--json-file", "/nonexistent/tenant.json", "--server", platform.address, "--token", platform.ownerToken)
            #expect(unread.status == 64, "a usage error")
            #expect(unread.output.contains("cannot read --json-file /nonexistent/tenant.json"), "\(unread.output)")
            #expect(!unread.output.contains("NSCocoaErrorDomain"))

            let denied = try await spctl("tenants", "list", "--server", platform.address, "--token", "sp_nope_nope")
            #expect(denied.status != 0)
            #expect(denied.output.contains("error: UNAUTHENTICATED:"))
            #expect(denied.output.contains("reason: invalid_token"))

            let nowhere = try await spctl("tenants", "list")
            #expect(nowhere.status == 1, "a failure, not a usage error (64)")
            #expect(nowhere.output.contains("error: no server"))
            #expect(!nowhere.output.contains("USAGE"))
        }
    }

    @Test("a platform that takes the connection and never answers: spctl gives up at --timeout and says so")
    func timeout() async throws {
        let spctl = try Spctl()
        try await SilentServer.with { silent in
            let started = ContinuousClock.now
            let stuck = try await spctl("whoami", "--server", silent.address, "--token", "sp_any", "--timeout", "1")
            #expect(stuck.status == 1)
            #expect(ContinuousClock.now - started < .seconds(20), "not the default 30 s")
            #expect(stuck.output.contains("error: DEADLINE_EXCEEDED"), "\(stuck.output)")
            #expect(stuck.output.contains("\(silent.address) did not answer within 1 s"), "\(stuck.output)")
        }
        let negative = try await spctl("whoami", "--timeout=-1")
        #expect(negative.status == 64)
        #expect(negative.output.contains("--timeout must be a number of seconds from 0 to 86400 (a day)"), "\(negative.output)")
        let huge = try await spctl("whoami", "--timeout", "1e16")
        #expect(huge.status == 64, "refused, not a crash: \(huge.output)")
    }

    @Test("login saves a context; flags and SPCTL_* override it")
    func contexts() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            let spctl = try Spctl()
            let none = try await spctl("config", "current-context")
            #expect(none.status != 0)
            #expect(none.output.contains("no contexts yet: start platform-server once (it adds one), or run `spctl login"), "\(none.output)")
            let tokenFile = platform.home.appendingPathComponent("owner.token").path
            let login = try await spctl("login", "--server", platform.address, "--token-file", tokenFile, "--context", "test")
            #expect(login.status == 0, "\(login.output)")
            #expect(login.output.contains("logged in to \(platform.address) as tenants/root/apiKeys/"), "\(login.output)")

            let current = try await spctl("config", "current-context")
            #expect(current.output.trimmingCharacters(in: .whitespacesAndNewlines) == "test")
            let whoami = try await spctl("whoami", "-o", "json")
            #expect(whoami.status == 0, "\(whoami.output)")
            #expect(whoami.output.contains("ROLE_PLATFORM_OWNER"))

            let overridden = try await spctl("whoami", environment: ["SPCTL_TOKEN": "sp_bad_token"])
            #expect(overridden.status != 0)
            #expect(overridden.output.contains("UNAUTHENTICATED"))
            let named = try await spctl("whoami", "--context", "test", environment: ["SPCTL_SERVER": "127.0.0.1:1", "SPCTL_TOKEN": "sp_bad_token"])
            #expect(named.status == 0, "a context named by flag is the context, whatever the environment says: \(named.output)")
            let unreachable = try await spctl("whoami", environment: ["SPCTL_SERVER": "127.0.0.1:1"])
            #expect(unreachable.status != 0)
            #expect(unreachable.output.contains("hint: is platform-server running at 127.0.0.1:1 (from SPCTL_SERVER)?"), "\(unreachable.output)")
            // The same server by another name is another server: the context's token stays home,
            // and the error says so.
            let port = platform.address.split(separator: ":").last!
            let renamed = try await spctl("whoami", "--server", "localhost:\(port)")
            #expect(renamed.status != 0)
            #expect(renamed.output.contains(
                "hint: localhost:\(port) is not the server of context \"test\" (\(platform.address)), so its token was not sent; pass --token or set SPCTL_TOKEN"),
                "\(renamed.output)")

            let badLogin = try await spctl("login", "--server", platform.address, "--token", "sp_bad_token")
            #expect(badLogin.status != 0)
            let contexts = try await spctl("config", "get-contexts")
            #expect(contexts.output.contains("* test"))
            #expect(!contexts.output.contains(platform.address + "\tplaintext\ttoken\n"))

            // A token file named relative to where login ran is kept as an absolute path, so the
            // context works from any directory.
            let relative = try await spctl.run(
                ["login", "--server", platform.address, "--token-file", "owner.token", "--context", "relative"], in: platform.home)
            #expect(relative.status == 0, "\(relative.output)")
            #expect(try spctl.contexts().contexts["relative"]?.tokenFile == tokenFile)
            #expect(try await spctl("whoami", "--context", "relative").status == 0)
            // One that is gone says which file, and what to do.
            var saved = try spctl.contexts()
            saved.contexts["relative"]?.tokenFile = platform.home.appendingPathComponent("gone.token").path
            try saved.save(to: spctl.configPath)
            let gone = try await spctl("whoami", "--context", "relative")
            #expect(gone.status != 0)
            #expect(gone.output.contains("cannot read the token file \(platform.home.appendingPathComponent("gone.token").path)"), "\(gone.output)")
        }
    }

    @Test("login --link redeems a login link once for a context of the tenant's role; a used link saves nothing")
    func loginLink() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            let spctl = try Spctl()
            let links = LoginLinkService.Client(wrapping: platform.client)
            let owner = platform.metadata(platform.ownerToken)
            let admin = try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantAdmin }, metadata: owner)

            // The URL as the platform hands it out, query and all.
            let login = try await spctl.run(["login", "--server", platform.address, "--link", admin.url, "--context", "acme"], separatingStandardError: true)
            #expect(login.status == 0, "\(login.errors)")
            #expect(login.output.contains("logged in to \(platform.address) as \(admin.loginLink.name) (tenants/acme); context \"acme\" is current"),
                    "\(login.output)")
            #expect(login.errors.contains("note: the session lasts until "), "\(login.errors)")
            #expect(login.errors.contains("log in with a new link"), "\(login.errors)")
            #expect(try spctl.contexts().contexts["acme"]?.token?.hasPrefix("sps_") == true, "the session's token, kept as --token keeps one")
            let whoami = try await spctl("whoami", "-o", "json")
            #expect(whoami.status == 0, "\(whoami.output)")
            #expect(whoami.output.contains("ROLE_TENANT_ADMIN"), "\(whoami.output)")

            // A link works once: the second try is the platform's refusal, and the config stays as it was.
            let saved = try spctl.contexts()
            let again = try await spctl("login", "--server", platform.address, "--link", admin.token, "--context", "again")
            #expect(again.status == 1, "\(again.output)")
            #expect(again.output.contains("error: UNAUTHENTICATED: \(admin.loginLink.name) was already used"), "\(again.output)")
            #expect(again.output.contains("reason: login_link_used"), "\(again.output)")
            #expect(try spctl.contexts() == saved)

            // A link whose last path segment is the token works too.
            let member = try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantMember }, metadata: owner)
            let byPath = try await spctl("login", "--server", platform.address, "--link", "https://app.example/login/\(member.token)", "--context", "member")
            #expect(byPath.status == 0, "\(byPath.output)")
            #expect(try await spctl("whoami", "--context", "member", "-o", "json").output.contains("ROLE_TENANT_MEMBER"))

            // Two credentials at once is a usage error, found before the link is spent.
            let unused = try await links.createLoginLink(.with { $0.parent = "tenants/acme"; $0.role = .tenantAdmin }, metadata: owner)
            let settled = try spctl.contexts()
            let both = try await spctl("login", "--server", platform.address, "--link", unused.token, "--token", platform.ownerToken)
            #expect(both.status == 64, "\(both.output)")
            #expect(both.output.contains("--link and --token cannot be used together"), "\(both.output)")
            #expect(try spctl.contexts() == settled)
            let notALink = try await spctl("login", "--server", platform.address, "--link", platform.ownerToken)
            #expect(notALink.status == 64, "\(notALink.output)")
            #expect(notALink.output.contains("--link takes a login link's URL"), "\(notALink.output)")
            let state = try await links.getLoginLink(.with { $0.name = unused.loginLink.name }, metadata: owner).state
            #expect(state == .active, "the link given beside --token was not redeemed")
        }
    }

    @Test("shell completion scripts are generated")
    func completion() async throws {
        let spctl = try Spctl()
        let script = try await spctl("--generate-completion-script", "bash")
        #expect(script.status == 0)
        #expect(script.output.contains("tenants"))
        #expect(script.output.contains("api-keys"))
    }
}

/// `spctl twilio simulate` against a real bridge and platform.
@Suite("spctl twilio simulate")
struct TwilioSimulateTests {
    @Test("sms, call, digits, dial results and call statuses reach the bridge as Twilio sends them; a wrong token is refused")
    func simulate() async throws {
        try await TestPlatform.with(.sqlite) { platform in
            try await platform.createTenant("acme", displayName: "Acme Detailing")
            try await platform.setPlan("acme", .elite)
            _ = try await PhoneConfigService.Client(wrapping: platform.client).createPhoneConfig(.with {
                $0.parent = "tenants/acme"; $0.phoneConfigID = "main"
                $0.phoneConfig = .with { $0.phoneNumber = "+19185550101"; $0.ivrMode = .ivr; $0.forwardNumber = "+19185559999" }
            }, metadata: platform.metadata(platform.ownerToken))
            let spool = FileManager.default.temporaryDirectory.appendingPathComponent("spool-\(UUID().uuidString).sqlite").path
            try await TestBridge.with(platform: platform.address, bridgeToken: platform.bridgeToken, spoolPath: spool) { bridge in
                try await bridge.waitForPlatform()
                let spctl = try SpctlCommandTests.Spctl()
                let common = ["--bridge", bridge.base, "--public-url", "https://bridge.example.com", "--auth-token", TestBridge.authToken, "--to", "+19185550101"]

                let sms = try await spctl.run(["twilio", "simulate", "sms", "--body", "Hi there"] + common)
                #expect(sms.status == 0, "\(sms.output)")
                #expect(sms.output.contains("<Message>Thanks for texting Acme Detailing!"))

                let call = try await spctl.run(["twilio", "simulate", "call", "--call-sid", "CA" + String(repeating: "ab", count: 16)] + common)
                #expect(call.status == 0, "\(call.output)")
                #expect(call.output.contains("<Gather"))
                let digits = try await spctl.run(["twilio", "simulate", "digits", "--call-sid", "CA" + String(repeating: "ab", count: 16), "--digits", "3"] + common)
                #expect(digits.output.contains("<Number>+19185559999</Number>"), "\(digits.output)")
                let missed = try await spctl.run(["twilio", "simulate", "dial-result", "--call-sid", "CA" + String(repeating: "ab", count: 16), "--status", "busy"] + common)
                #expect(missed.status == 0, "\(missed.output)")
                #expect(missed.output.contains("<Record"), "nobody else to ring: a voicemail")
                let answered = try await spctl.run(["twilio", "simulate", "dial-result", "--call-sid", "CA" + String(repeating: "ab", count: 16), "--status", "completed"] + common)
                #expect(answered.output.contains("<Hangup/>"), "\(answered.output)")
                // The action URL as the TwiML printed it: the bridge's own dial during an outage,
                // which the bridge answers itself, with a voicemail once its number went unanswered.
                let outage = try await spctl.run(["twilio", "simulate", "dial-result", "--call-sid", "CA" + String(repeating: "ab", count: 16),
                                                  "--action", "https://bridge.example.com/twilio/voice/dial-result?outage=1&amp;dialed=%2B19185559999"] + common)
                #expect(outage.status == 0, "\(outage.output)")
                #expect(outage.output.contains("trouble") && outage.output.contains("<Record"), "\(outage.output)")
                let notDialResult = try await spctl.run(["twilio", "simulate", "dial-result", "--call-sid", "CA" + String(repeating: "ab", count: 16),
                                                         "--action", "/twilio/voice/gather?attempt=1"] + common)
                #expect(notDialResult.status != 0)
                #expect(notDialResult.output.contains("--action must be a dial-result URL"), "\(notDialResult.output)")
                let ended = try await spctl.run(["twilio", "simulate", "status", "--call-sid", "CA" + String(repeating: "ab", count: 16),
                                                 "--duration", "37", "--recording-url", "https://api.twilio.com/recordings/RE1"] + common)
                #expect(ended.status == 0, "\(ended.output)")
                let logged = try await CommunicationLogService.Client(wrapping: platform.client).listCalls(
                    .with { $0.parent = "tenants/acme" }, metadata: platform.metadata(platform.ownerToken)).calls.first
                #expect(logged?.status == .completed)
                #expect(logged?.recordingURL == "https://api.twilio.com/recordings/RE1")
                #expect(logged?.duration.seconds == 37)

                // Standard output carries TwiML alone: the bridge's refusal goes with the error.
                let forged = try await spctl.run(
                    ["twilio", "simulate", "sms", "--body", "x", "--bridge", bridge.base, "--public-url", "https://bridge.example.com", "--auth-token", "wrong", "--to", "+19185550101"],
                    separatingStandardError: true)
                #expect(forged.status != 0)
                #expect(forged.output.isEmpty, "\(forged.output)")
                #expect(forged.errors.contains("HTTP 403: invalid X-Twilio-Signature; give the bridge's TWILIO_AUTH_TOKEN"), "\(forged.errors)")

                let misspelt = try await spctl.run(["twilio", "simulate", "dial-result", "--call-sid", "CA" + String(repeating: "ab", count: 16), "--status", "busyy"] + common)
                #expect(misspelt.status == 64)
                #expect(misspelt.output.contains("--status must be one of completed, answered, busy, no-answer, failed, canceled (got \"busyy\")"), "\(misspelt.output)")

                // A number Twilio would never send is refused before anything is posted, with
                // the command's own usage.
                let unprefixed = try await spctl.run(["twilio", "simulate", "sms", "--body", "hi"] + common + ["--to", "19185550101"])
                #expect(unprefixed.status == 64)
                #expect(unprefixed.output.contains("--to: use E.164"), "\(unprefixed.output)")
                // So is a CallSid: the platform would refuse it, and the bridge answer as in an outage.
                let shortSid = try await spctl.run(["twilio", "simulate", "digits", "--call-sid", "CAffff", "--digits", "1"] + common)
                #expect(shortSid.status == 64)
                #expect(shortSid.output.contains(#"--call-sid must be CA and 32 lowercase hex digits, as Twilio makes them (got "CAffff")"#), "\(shortSid.output)")
                let textSid = try await spctl.run(["twilio", "simulate", "sms", "--body", "hi", "--message-sid", "CA" + String(repeating: "ab", count: 16)] + common)
                #expect(textSid.status == 64)
                #expect(textSid.output.contains("--message-sid must be SM or MM and 32 lowercase hex digits"), "\(textSid.output)")
                #expect(unprefixed.output.contains("spctl twilio simulate sms"), "\(unprefixed.output)")
                let elsewhere = try await spctl.run(["twilio", "simulate", "sms", "--body", "hi"] + common + ["--bridge", "http://127.0.0.1:\(TestPorts.unused())"])
                #expect(elsewhere.status == 1)
                #expect(elsewhere.output.contains("pass --bridge with the address platform-server's --twilio-listen serves"), "\(elsewhere.output)")
            }
        }
    }
}
