import RPCRuntime

/// What a caller's `From` says about reaching them again.
enum CallerNumber {
    /// What Twilio sends as `From` when a caller withheld their number or has none: ANONYMOUS,
    /// RESTRICTED, BLOCKED, UNKNOWN and UNAVAILABLE spelled on a keypad. They look like numbers
    /// but reach nobody.
    static let withheld: Set<String> = ["+266696687", "+7378742833", "+2562533", "+8656696", "+86282452253"]

    /// Whether a text to `from` can reach the caller.
    static func canTakeTexts(_ from: String) -> Bool {
        PhoneNumber.isE164(from) && !withheld.contains(from)
    }
}
