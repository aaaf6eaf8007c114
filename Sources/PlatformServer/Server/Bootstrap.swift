import Foundation
import Logging
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The first start of an empty store: the root tenant (Clean Machine), an owner key and a bridge
/// key, their tokens written to `<home>/owner.token` and `<home>/bridge.token` (mode 0600), and
/// an spctl context pointing at this server, so `spctl tenants list` works right away.
enum Bootstrap {
    static let rootTenant = Tenant.with {
        $0.displayName = "Clean Machine"
        $0.industry = "auto_detailing"
        $0.city = "Tulsa"
        $0.planTier = .elite
        $0.status = .active
    }

    struct Tokens {
        var owner: String
        var bridge: String
    }

    /// Seeds the store if it has no root tenant and hands the new tokens to `keep` before the
    /// seed commits: if they cannot be kept, nothing is seeded, and the next start tries again.
    /// (Committed first, a seed whose tokens were lost would leave no one holding an owner key,
    /// and every later start would find the store seeded.) Nil if already seeded, here or by a
    /// replica starting at the same moment.
    static func seedIfEmpty(_ database: any Database, keep: @escaping @Sendable (Tokens) throws -> Void) async throws -> Tokens? {
        do {
            return try await database.withTenant(TenantRecords.rootID) { tx in
                guard try await TenantRecords.find(tx) == nil else { return nil }
                try await TenantRecords.insert(rootTenant, tx)
                try await PhoneConfigRecords.ensureRootLine(tx)
                let owner = try await ApiKeyRecords.issue(displayName: "Platform owner (bootstrap)", role: .platformOwner, creator: "bootstrap", tx)
                let bridge = try await ApiKeyRecords.issue(displayName: "Twilio bridge (bootstrap)", role: .telephonyBridge, creator: "bootstrap", tx)
                let tokens = Tokens(owner: owner.token, bridge: bridge.token)
                try keep(tokens)
                return tokens
            }
        } catch where TenantRecords.isIDTaken(error) {
            return nil
        }
    }

    /// The root's main line on every start, so stores seeded before phone configs existed get it.
    static func ensureRootPhoneConfig(_ database: any Database) async throws {
        do {
            try await database.withTenant(TenantRecords.rootID) { tx in
                guard try await TenantRecords.find(tx) != nil else { return }
                try await PhoneConfigRecords.ensureRootLine(tx)
            }
        } catch {
            // A unique violation means another replica starting at the same moment added it.
            guard UniqueViolation(error) != nil else { throw error }
        }
    }

    static func run(_ database: any Database, configuration: PlatformConfiguration, logger: Logger) async throws {
        let seeded = try await seedIfEmpty(database) { tokens in
            try FileManager.default.createDirectory(at: configuration.homeURL, withIntermediateDirectories: true)
            try SecretFile.write(Data((tokens.owner + "\n").utf8), to: configuration.ownerTokenPath)
            try SecretFile.write(Data((tokens.bridge + "\n").utf8), to: configuration.bridgeTokenPath)
        }
        if seeded != nil {
            logger.notice("first start: seeded tenants/root with owner and bridge keys", metadata: [
                "owner_token": "\(configuration.ownerTokenPath)",
                "bridge_token": "\(configuration.bridgeTokenPath)",
            ])
        }
        guard let configPath = configuration.spctlConfigPath else { return }
        // A convenience: the tokens are kept already, so a config spctl cannot take (unwritable,
        // or not spctl's) is reported, not a reason to stop.
        do {
            var contexts = try ClientContexts.load(from: configPath)
            let context = ClientContexts.Context(
                server: "\(configuration.host):\(configuration.port)", tokenFile: configuration.ownerTokenPath, tls: configuration.tls != nil)
            if seeded != nil {
                let name = contexts.contexts["local"] == nil ? "local" : "local-\(configuration.port)"
                contexts.contexts[name] = context
                contexts.currentContext = name
                try contexts.save(to: configPath)
                logger.notice("spctl context \"\(name)\" now points at this server", metadata: ["config": "\(configPath)"])
            } else {
                // A later start on another address: the contexts a first start of this home made
                // (those reading its owner token) follow it, rather than point at a server gone.
                let moved = contexts.follow(context)
                guard !moved.isEmpty else { return }
                try contexts.save(to: configPath)
                for name in moved {
                    logger.notice("spctl context \"\(name)\" now points at this server", metadata: ["config": "\(configPath)", "address": "\(context.server)"])
                }
            }
        } catch {
            logger.warning(
                "could not point an spctl context at this server; run spctl login --server \(configuration.host):\(configuration.port) --token-file \(configuration.ownerTokenPath)",
                metadata: ["config": "\(configPath)", "error": "\(error)"])
        }
    }
}
