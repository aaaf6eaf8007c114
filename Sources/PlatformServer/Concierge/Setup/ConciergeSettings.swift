import Foundation

/// How concierge setup buys numbers and links onboarding to logins.
public struct ConciergeSettings: Sendable {
    /// Twilio's number API, for concierge creates and new phone configs that buy a number; nil
    /// without credentials, and provisioning then says what to set.
    public var numbers: TwilioNumberProvisioner?
    /// Where login links in onboarding messages point.
    public var loginLinkBaseURL: String
    /// For tests only: fail a create on purpose after one of its steps.
    public var faults: ConciergeFaults

    public init(numbers: TwilioNumberProvisioner? = nil, loginLinkBaseURL: String = LoginLinkHandler.defaultLinkBaseURL, faults: ConciergeFaults = .none) {
        self.numbers = numbers
        self.loginLinkBaseURL = loginLinkBaseURL
        self.faults = faults
    }

    /// Twilio credentials from TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (SERVICEPRO_TWILIO_API_URL
    /// for another endpoint) and SERVICEPRO_LOGIN_LINK_URL.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> ConciergeSettings {
        ConciergeSettings(
            numbers: TwilioNumberProvisioner.fromEnvironment(environment),
            loginLinkBaseURL: environment["SERVICEPRO_LOGIN_LINK_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? LoginLinkHandler.defaultLinkBaseURL)
    }
}
