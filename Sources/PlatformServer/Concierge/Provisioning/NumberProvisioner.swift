import Foundation
import Logging
import RPCRuntime
import ServiceProAPI

/// Buys and releases the platform-managed phone numbers a concierge create or a new phone config
/// asks for, and points an existing number of the account at the bridge when a create gives it
/// to a tenant.
public protocol NumberProvisioner: Sendable {
    /// Buys a local number, in `areaCode` when given, and names it after the tenant.
    func provision(areaCode: String?, countryCode: String, friendlyName: String) async throws -> ProvisionedNumber

    /// Gives a number back, e.g. because the create it was bought for failed, or its config gave
    /// it up. Releasing a number the account no longer has succeeds.
    func release(_ number: ProvisionedNumber) async throws

    /// Throws what `provision` would, when it cannot buy at all: the review step reports it
    /// rather than previewing a create that is bound to fail.
    func checkCanProvision() throws

    /// Throws FAILED_PRECONDITION `number_not_in_account`, naming `field`, unless `phoneNumber`
    /// is one of the account's numbers: a line set up on a mistyped number would never hear a
    /// call or text.
    func checkOwned(_ phoneNumber: String, field: String) async throws

    /// Points `phoneNumber`, one of the account's numbers, at the bridge, so its calls and texts
    /// reach the line a create or update gives it to. Returns how it was routed before, for
    /// `restoreRouting` if the change fails; nil when nothing changed. Throws what `checkOwned`
    /// does for a number the account does not hold.
    func routeToBridge(_ phoneNumber: String, field: String) async throws -> RoutedNumber?

    /// Puts back the routing `routeToBridge` replaced.
    func restoreRouting(_ number: RoutedNumber) async throws
}

extension NumberProvisioner {
    public func checkCanProvision() throws {}

    /// With no account to look in, there is nothing to check.
    public func checkOwned(_ phoneNumber: String, field: String) async throws {}

    public func routeToBridge(_ phoneNumber: String, field: String) async throws -> RoutedNumber? { nil }

    public func restoreRouting(_ number: RoutedNumber) async throws {}

    /// Runs `write`, which makes or changes a line, with the line's `number` ready at Twilio:
    /// bought, or one of the account's pointed at the bridge. `write` is given what was bought and
    /// answers the number the line kept: a number bought and not kept (a retry that overlapped
    /// made the line first, on a number of its own) is given back. When `write` fails, a bought
    /// number is given back and an existing one pointed back where it was. `purpose` names the
    /// change in the log ("a concierge create").
    func withLineNumber<Result>(
        _ number: LineNumber, for purpose: String, database: any Database, logger: Logger,
        _ write: (ProvisionedNumber?) async throws -> (result: Result, keptNumber: String)
    ) async throws -> Result {
        var bought: ProvisionedNumber?
        var rerouted: RoutedNumber?
        switch number {
        case .buy(let areaCode, let countryCode, let friendlyName):
            bought = try await provision(areaCode: areaCode, countryCode: countryCode, friendlyName: friendlyName)
        case .existing(let phoneNumber, let field):
            rerouted = try await routeToBridge(phoneNumber, field: field)
        case .none:
            break
        }
        do {
            let (result, kept) = try await write(bought)
            if let bought, kept != bought.phoneNumber { await releaseUnkept(bought, boughtFor: purpose, logger: logger) }
            return result
        } catch {
            if let bought { await releaseUnkept(bought, boughtFor: purpose, logger: logger) }
            if let rerouted { await restoreRouting(rerouted, unlessHeldIn: database, routedFor: purpose, logger: logger) }
            throw error
        }
    }

    /// Points `number` back where `routeToBridge` found it, after the change it was routed for
    /// (e.g. "a concierge create") failed; failing that, logs what to restore by hand. A line
    /// that holds the number by now (another change's, which won a race for it) keeps it on the
    /// bridge.
    private func restoreRouting(_ number: RoutedNumber, unlessHeldIn database: any Database, routedFor purpose: String, logger: Logger) async {
        do {
            let held = try await database.transaction(.platform) { tx in
                try await PhoneConfigRecords.taken(PhoneConfig.with { $0.phoneNumber = number.phoneNumber }, among: "1 = 1", tx) != nil
            }
            if held { return }
            try await restoreRouting(number)
        } catch {
            logger.error("an existing number pointed at the bridge for \(purpose) that failed could not be pointed back; restore its webhooks by hand", metadata: [
                "sid": "\(number.sid)", "number": "\(number.phoneNumber)",
                "previous_routing": "\(number.previousRouting.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))",
                "error": "\(error)",
            ])
        }
    }

    /// Gives back `number`, bought for `purpose` (e.g. "a concierge create") and not kept;
    /// failing that, logs which number to release by hand.
    func releaseUnkept(_ number: ProvisionedNumber, boughtFor purpose: String, logger: Logger) async {
        do {
            try await release(number)
        } catch {
            logger.error("a number bought for \(purpose) and not kept could not be released; release it by hand", metadata: [
                "sid": "\(number.sid)", "number": "\(number.phoneNumber)", "error": "\(error)",
            ])
        }
    }
}

/// Where a line's number comes from, for ``NumberProvisioner/withLineNumber(_:for:database:logger:_:)``.
enum LineNumber: Sendable {
    /// Bought for the line, in `areaCode` when given, named `friendlyName`.
    case buy(areaCode: String?, countryCode: String, friendlyName: String)
    /// One of the account's, given at `field`.
    case existing(String, field: String)
    /// None (a line without a number).
    case none
}

public struct ProvisionedNumber: Sendable, Hashable {
    /// Twilio's IncomingPhoneNumber sid, `PN…`.
    public var sid: String
    /// E.164.
    public var phoneNumber: String

    public init(sid: String, phoneNumber: String) {
        self.sid = sid
        self.phoneNumber = phoneNumber
    }
}

/// An existing number of the account that a create pointed at the bridge, with what it pointed
/// at before.
public struct RoutedNumber: Sendable, Hashable {
    /// Twilio's IncomingPhoneNumber sid, `PN…`.
    public var sid: String
    /// E.164.
    public var phoneNumber: String
    /// The number's routing before, as the fields of Twilio's update that restore it
    /// (`VoiceUrl`, `SmsApplicationSid`, …; "" for one that was not set).
    public var previousRouting: [String: String]

    public init(sid: String, phoneNumber: String, previousRouting: [String: String]) {
        self.sid = sid
        self.phoneNumber = phoneNumber
        self.previousRouting = previousRouting
    }
}

/// What a platform without Twilio credentials answers: provisioning is refused with a reason
/// that says what to configure, and nothing pretends a number was bought.
public struct UnavailableNumberProvisioner: NumberProvisioner {
    public init() {}

    public func provision(areaCode: String?, countryCode: String, friendlyName: String) async throws -> ProvisionedNumber {
        throw Self.unavailable
    }

    public func checkCanProvision() throws {
        throw Self.unavailable
    }

    private static var unavailable: ServiceError {
        .failedPrecondition(
            reason: "number_provisioning_unavailable",
            message: "no Twilio account is configured to buy numbers; set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN where platform-server runs and restart it, or use an existing number")
    }

    public func release(_ number: ProvisionedNumber) async throws {}
}
