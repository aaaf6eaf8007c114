import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RPCRuntime
import ServiceProAPI
import TwilioBridge

/// `spctl twilio simulate`: posts real-shaped, signed Twilio webhooks to a bridge and prints the
/// TwiML it answers, so every flow can be tried without Twilio.
struct TwilioCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twilio",
        abstract: "Work with the Twilio bridge.",
        subcommands: [Simulate.self]
    )

    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the bridge a signed webhook as Twilio would, and print its TwiML.",
            discussion: """
                Start with `call`, then continue the same call with `digits`, `speech` or \
                `dial-result` and the CallSid it printed, and end it with `status`. The bridge must \
                know the same auth token (TWILIO_AUTH_TOKEN).
                """,
            subcommands: [SMS.self, Call.self, Digits.self, Speech.self, DialResult.self, Status.self]
        )
    }

    /// Where the bridge is and how to sign for it.
    struct BridgeOptions: ParsableArguments {
        @Option(help: "The bridge's base URL.")
        var bridge: String = "http://127.0.0.1:8080"

        @Option(name: .customLong("public-url"), help: "The base URL the bridge believes Twilio calls (its --public-url); the bridge URL by default.")
        var publicURL: String?

        @Option(name: .customLong("auth-token"), help: "Twilio auth token to sign with (env TWILIO_AUTH_TOKEN).")
        var authToken: String?

        @Option(help: "The number called, E.164.") var to: String
        @Option(help: "The caller or sender, E.164.") var from: String = "+15005550006"

        private var token: String? { (authToken ?? ProcessInfo.processInfo.environment["TWILIO_AUTH_TOKEN"]).flatMap { $0.isEmpty ? nil : $0 } }

        /// Checked while parsing, so a mistake is shown with this command's usage.
        func validate() throws {
            guard token != nil else { throw ValidationError("give the bridge's Twilio auth token: --auth-token or TWILIO_AUTH_TOKEN") }
            guard TwilioCallbackURLs.isCallable(bridge) else { throw ValidationError("--bridge must be \(TwilioCallbackURLs.callableExample)") }
            // Twilio names its own number in E.164; anything else would resolve to the root tenant.
            if let problem = Check.e164Required(to) { throw ValidationError("--to: \(problem)") }
        }

        /// POSTs the form to `path` signed for the public URL; prints the TwiML, fails on non-200.
        func post(_ path: String, _ parameters: [(String, String)]) throws {
            // validate() has made sure of the token and of the bridge's URL.
            let base = TwilioCallbackURLs(base: bridge).base
            let signedBase = TwilioCallbackURLs(base: publicURL ?? bridge).base
            guard let url = URL(string: base + path) else { throw CommandFailure("--bridge \(bridge) is not a URL") }
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            request.setValue(TwilioSignatureVerifier(authToken: token ?? "").signature(url: signedBase + path, parameters: parameters), forHTTPHeaderField: TwilioSignatureVerifier.signatureHeader)
            request.httpBody = Data(FormEncoding.encode(parameters).utf8)
            let (status, body) = try Self.send(request)
            // Standard output carries the TwiML alone; a refusal's text goes with the error.
            guard status == 200 else {
                let reason = body.trimmingCharacters(in: .whitespacesAndNewlines)
                let advice = status == 403 ? "; give the bridge's TWILIO_AUTH_TOKEN (--auth-token), and its --public-url if it has one" : ""
                throw CommandFailure("the bridge answered HTTP \(status)\(reason.isEmpty ? "" : ": \(reason)")\(advice)")
            }
            print(body)
        }

        /// URLSession's synchronous use, for a one-shot CLI call.
        private static func send(_ request: URLRequest) throws -> (Int, String) {
            let semaphore = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Result<(Int, String), any Error> = .failure(URLError(.unknown))
            URLSession.shared.dataTask(with: request) { data, response, error in
                if let error {
                    outcome = .failure(error)
                } else {
                    outcome = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self)))
                }
                semaphore.signal()
            }.resume()
            semaphore.wait()
            do {
                return try outcome.get()
            } catch {
                throw CommandFailure("cannot reach the bridge at \(request.url!.absoluteString): \(error.localizedDescription); is the bridge running there? Start twilio-bridge, or pass --bridge with the address platform-server's --twilio-listen serves")
            }
        }
    }

    /// The values Twilio sends as `DialCallStatus` when a `<Dial>` ends.
    static let dialCallStatuses = ["completed", "answered", "busy", "no-answer", "failed", "canceled"]
    /// The values of `CallStatus` in a call's last status callback, when the call is over.
    static let finalCallStatuses = ["completed", "busy", "no-answer", "failed", "canceled"]

    /// Refuses a status Twilio never sends, which the bridge would take and the flow misread.
    static func check(_ status: String, among statuses: [String], option: String) throws {
        guard statuses.contains(status) else {
            throw ValidationError("\(option) must be one of \(statuses.joined(separator: ", ")) (got \"\(status)\")")
        }
    }

    static func sid(_ prefix: String) -> String {
        prefix + (0..<32).map { _ in String("0123456789abcdef".randomElement()!) }.joined()
    }

    /// The call a webhook continues.
    struct ContinuedCall: ParsableArguments {
        @Option(name: .customLong("call-sid"), help: "The CallSid `call` printed.") var callSid: String

        func validate() throws { try TwilioCommand.checkSID(callSid, prefixes: ["CA"], option: "--call-sid") }
    }

    /// Twilio's SIDs are two letters and 32 hex digits; the platform refuses any other, and the
    /// bridge would answer as it does when the platform cannot take the webhook.
    static func checkSID(_ sid: String, prefixes: [String], option: String) throws {
        let hex = sid.dropFirst(2)
        guard prefixes.contains(String(sid.prefix(2))), hex.count == 32, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw ValidationError("\(option) must be \(prefixes.joined(separator: " or ")) and 32 lowercase hex digits, as Twilio makes them (got \"\(sid)\")")
        }
    }

    struct SMS: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sms", abstract: "An inbound text.")
        @OptionGroup var bridge: BridgeOptions
        @Option(help: "The text.") var body: String
        @Option(name: .customLong("messaging-service-sid"), help: "The Messaging Service it arrived through.") var messagingServiceSid: String?
        @Option(name: .customLong("message-sid"), help: "Reuse a MessageSid to simulate Twilio's retry.") var messageSid: String?

        func validate() throws {
            if let messageSid { try TwilioCommand.checkSID(messageSid, prefixes: ["SM", "MM"], option: "--message-sid") }
            if let messagingServiceSid { try TwilioCommand.checkSID(messagingServiceSid, prefixes: ["MG"], option: "--messaging-service-sid") }
        }

        func run() throws {
            var parameters = [
                ("MessageSid", messageSid ?? TwilioCommand.sid("SM")), ("AccountSid", TwilioCommand.sid("AC")),
                ("From", bridge.from), ("To", bridge.to), ("Body", body), ("NumMedia", "0"),
            ]
            if let messagingServiceSid { parameters.append(("MessagingServiceSid", messagingServiceSid)) }
            try bridge.post(TwilioCallbackURLs.smsPath, parameters)
        }
    }

    struct Call: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "call", abstract: "An inbound call's first webhook.")
        @OptionGroup var bridge: BridgeOptions
        @Option(name: .customLong("call-sid"), help: "The call's CallSid; a new one when omitted.") var callSid: String?

        func validate() throws {
            if let callSid { try TwilioCommand.checkSID(callSid, prefixes: ["CA"], option: "--call-sid") }
        }

        func run() throws {
            let sid = callSid ?? TwilioCommand.sid("CA")
            StandardError.say("CallSid: \(sid)")
            try bridge.post(TwilioCallbackURLs.incomingCallPath, [
                ("CallSid", sid), ("AccountSid", TwilioCommand.sid("AC")), ("From", bridge.from), ("To", bridge.to),
                ("CallStatus", "ringing"), ("Direction", "inbound"),
            ])
        }
    }

    struct Digits: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "digits", abstract: "Keys pressed at the IVR menu.")
        @OptionGroup var bridge: BridgeOptions
        @OptionGroup var call: ContinuedCall
        @Option(help: "The keys pressed; empty for none.") var digits: String = ""
        @Option(help: "Which try of the menu this is.") var attempt: Int = 1

        func run() throws {
            try bridge.post("\(TwilioCallbackURLs.ivrGatherPath)?\(TwilioCallbackURLs.attemptParameter)=\(attempt)", [
                ("CallSid", call.callSid), ("From", bridge.from), ("To", bridge.to), ("Digits", digits), ("CallStatus", "in-progress"),
            ])
        }
    }

    struct DialResult: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "dial-result", abstract: "How a <Dial> the bridge asked for ended.")
        @OptionGroup var bridge: BridgeOptions
        @OptionGroup var call: ContinuedCall
        @Option(help: "Twilio's DialCallStatus: \(TwilioCommand.dialCallStatuses.joined(separator: ", ")).") var status: String = "no-answer"
        @Option(help: "The attempt in the Dial's action URL.") var attempt: Int = 1
        @Option(help: ArgumentHelp(
            "The <Dial>'s action URL as the TwiML printed it, e.g. \"https://bridge.example.com/twilio/voice/dial-result?attempt=1&amp;dialed=%2B19185559999\"; instead of --attempt.",
            discussion: "It carries what the bridge needs when the platform is down: the number that was rung, and whether the dial was the bridge's own."))
        var action: String?

        /// The path and query to post to: the action's, or one built from --attempt.
        private var target: String {
            get throws {
                guard let action else { return "\(TwilioCallbackURLs.dialResultPath)?\(TwilioCallbackURLs.attemptParameter)=\(attempt)" }
                // As printed, inside an XML attribute.
                let unescaped = action.replacingOccurrences(of: "&amp;", with: "&")
                guard let url = URLComponents(string: unescaped), url.path.hasSuffix(TwilioCallbackURLs.dialResultPath) else {
                    throw ValidationError("--action must be a dial-result URL from the TwiML, e.g. /twilio/voice/dial-result?attempt=1")
                }
                return TwilioCallbackURLs.dialResultPath + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
            }
        }

        func validate() throws {
            try TwilioCommand.check(status, among: TwilioCommand.dialCallStatuses, option: "--status")
            _ = try target
        }

        func run() throws {
            try bridge.post(try target, [
                ("CallSid", call.callSid), ("From", bridge.from), ("To", bridge.to), ("DialCallStatus", status), ("CallStatus", "in-progress"),
            ])
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status", abstract: "A call's status callback: how it ended, and the voicemail it left.")
        @OptionGroup var bridge: BridgeOptions
        @OptionGroup var call: ContinuedCall
        @Option(help: "Twilio's CallStatus: \(TwilioCommand.finalCallStatuses.joined(separator: ", ")).") var status: String = "completed"
        @Option(help: "How long the call lasted, in seconds.") var duration: Int = 42
        @Option(name: .customLong("recording-url"), help: "The voicemail's recording, as a <Record> leaves one.") var recordingURL: String?

        func validate() throws { try TwilioCommand.check(status, among: TwilioCommand.finalCallStatuses, option: "--status") }

        func run() throws {
            var parameters = [
                ("CallSid", call.callSid), ("From", bridge.from), ("To", bridge.to), ("CallStatus", status), ("CallDuration", String(duration)),
            ]
            if let recordingURL {
                parameters += [("RecordingUrl", recordingURL), ("RecordingSid", TwilioCommand.sid("RE")), ("RecordingDuration", String(min(duration, 120)))]
            }
            try bridge.post(TwilioCallbackURLs.statusPath, parameters)
        }
    }

    struct Speech: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "speech", abstract: "What the caller said to the AI receptionist.")
        @OptionGroup var bridge: BridgeOptions
        @OptionGroup var call: ContinuedCall
        @Option(help: "The recognised speech; empty for silence.") var speech: String = ""
        @Option(help: "Which turn of the conversation this is.") var attempt: Int = 1

        func run() throws {
            try bridge.post("\(TwilioCallbackURLs.aiVoicePath)?\(TwilioCallbackURLs.attemptParameter)=\(attempt)", [
                ("CallSid", call.callSid), ("From", bridge.from), ("To", bridge.to), ("SpeechResult", speech), ("Confidence", "0.9"),
                ("CallStatus", "in-progress"),
            ])
        }
    }
}
