import SwiftProtobuf
import ServiceProAPI

/// Small builders that keep the call flows readable.
extension VoiceInstruction {
    static func say(_ text: String) -> VoiceInstruction {
        .with { $0.say = .with { $0.text = text } }
    }

    static func gather(_ gather: Gather) -> VoiceInstruction {
        .with { $0.gather = gather }
    }

    /// With `resultAttempt`, the dial's outcome goes to HandleDialResult as that attempt, and
    /// nothing after the dial runs; without, the next instruction runs however the dial ended.
    static func dial(number: String, timeout: Int64 = 25, resultAttempt: Int? = nil) -> VoiceInstruction {
        .with {
            $0.dialNumber = .with {
                $0.number = number
                $0.timeout = Google_Protobuf_Duration(seconds: timeout)
                if let resultAttempt { $0.action = .dialResult(attempt: resultAttempt) }
            }
        }
    }

    static func dial(sip uri: String, credential: StoredPhoneConfig.SIPCredential? = nil, timeout: Int64 = 25, resultAttempt: Int? = nil) -> VoiceInstruction {
        .with {
            $0.dialSip = .with {
                $0.sipUri = uri
                if let credential {
                    $0.username = credential.username
                    $0.password = credential.password
                }
                $0.timeout = Google_Protobuf_Duration(seconds: timeout)
                if let resultAttempt { $0.action = .dialResult(attempt: resultAttempt) }
            }
        }
    }

    static let voicemail: VoiceInstruction = .with {
        $0.record = .with {
            $0.maxLength = Google_Protobuf_Duration(seconds: 120)
            $0.timeout = Google_Protobuf_Duration(seconds: 5)
            $0.finishOnKey = "#"
            $0.playBeep = true
        }
    }

    static let endCall: VoiceInstruction = .with { $0.hangup = .init() }
}

extension VoiceCallback {
    static func dialResult(attempt: Int) -> VoiceCallback {
        .with { $0.route = .dialResult; $0.attempt = Int32(attempt) }
    }
}

/// Endings shared by the call flows.
enum VoiceScript {
    static func leaveVoicemail() -> [VoiceInstruction] {
        [.say("Please leave a message after the beep, and press pound when you're done."), .voicemail, .endCall]
    }
}
