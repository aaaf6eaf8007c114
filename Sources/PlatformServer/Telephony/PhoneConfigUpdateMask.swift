import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The fields an UpdatePhoneConfig may change.
struct PhoneConfigUpdateMask {
    static let fields: Set<String> = [
        "display_name", "phone_number", "messaging_service_sid",
        "sip_domain", "sip_username", "sip_password",
        "ivr_mode", "forward_number",
        "ivr_menu", "ivr_menu.greeting", "ivr_menu.options",
        "auto_reply", "auto_reply.disabled", "auto_reply.text",
        "business_alerts", "business_alerts.voicemails", "business_alerts.texts",
    ]

    let paths: UpdateMaskPaths

    init(_ mask: Google_Protobuf_FieldMask) throws {
        paths = try UpdateMaskPaths(mask, updatable: Self.fields)
    }

    func contains(_ path: String) -> Bool { paths.contains(path) }

    /// Copies the named fields; the SIP password is the caller's to seal.
    func apply(from source: PhoneConfig, to target: inout PhoneConfig) {
        for path in paths.paths {
            switch path {
            case "display_name": target.displayName = source.displayName
            case "phone_number": target.phoneNumber = source.phoneNumber
            case "messaging_service_sid": target.messagingServiceSid = source.messagingServiceSid
            case "sip_domain": target.sipDomain = source.sipDomain
            case "sip_username": target.sipUsername = source.sipUsername
            case "ivr_mode": target.ivrMode = source.ivrMode == .unspecified ? .simple : source.ivrMode
            case "forward_number": target.forwardNumber = source.forwardNumber
            case "ivr_menu":
                if source.hasIvrMenu { target.ivrMenu = source.ivrMenu } else { target.clearIvrMenu() }
            case "ivr_menu.greeting": target.ivrMenu.greeting = source.ivrMenu.greeting
            case "ivr_menu.options": target.ivrMenu.options = source.ivrMenu.options
            case "auto_reply":
                if source.hasAutoReply { target.autoReply = source.autoReply } else { target.clearAutoReply() }
            case "auto_reply.disabled": target.autoReply.disabled = source.autoReply.disabled
            case "auto_reply.text": target.autoReply.text = source.autoReply.text
            case "business_alerts":
                if source.hasBusinessAlerts { target.businessAlerts = source.businessAlerts } else { target.clearBusinessAlerts() }
            case "business_alerts.voicemails": target.businessAlerts.voicemails = source.businessAlerts.voicemails
            case "business_alerts.texts": target.businessAlerts.texts = source.businessAlerts.texts
            default: break
            }
        }
    }
}
