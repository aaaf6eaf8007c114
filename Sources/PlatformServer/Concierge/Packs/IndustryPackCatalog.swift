import Crypto
import Foundation
import RPCRuntime
import ServiceProAPI
import SwiftProtobuf

/// The industry packs the platform offers: one JSON file per pack, in the protobuf JSON mapping
/// of `IndustryPack`, named after the pack's id (`lawn_care.json` is `industryPacks/lawn_care`).
///
/// Packs are read and checked once, at start. A pack that does not parse or breaks a rule of
/// ``IndustryPackRules`` stops the server with an error naming the file and the field, rather
/// than reaching a tenant half right. A file's `name` and `version` are computed, not written:
/// the version is the start of the SHA-256 of the file, so it changes whenever the file does and
/// summaries can tell which content a tenant got.
///
/// ```swift
/// let catalog = try IndustryPackCatalog.bundled()
/// let pack = catalog.pack(forIndustry: tenant.industry)   // the generic pack when none matches
/// ```
public struct IndustryPackCatalog: Sendable {
    /// The pack for industries without their own; every catalogue has it.
    public static let fallbackID = "generic"
    static let namePrefix = "industryPacks/"

    /// Every pack, by id.
    public let all: [IndustryPack]
    /// The generic pack.
    public let fallback: IndustryPack
    private let byID: [String: IndustryPack]

    private init(packs: [String: IndustryPack], fallback: IndustryPack) {
        self.byID = packs
        self.all = packs.keys.sorted().compactMap { packs[$0] }
        self.fallback = fallback
    }

    /// The pack with this id, e.g. `lawn_care`.
    public func pack(id: String) -> IndustryPack? { byID[id] }

    /// The pack with this resource name, e.g. `industryPacks/lawn_care`.
    public func pack(named name: String) -> IndustryPack? {
        guard name.hasPrefix(Self.namePrefix) else { return nil }
        return byID[String(name.dropFirst(Self.namePrefix.count))]
    }

    /// The pack for a tenant's industry (`Tenant.industry` holds a pack id), or the generic one.
    public func pack(forIndustry industry: String) -> IndustryPack { byID[industry] ?? fallback }

    public static func name(id: String) -> String { namePrefix + id }

    // MARK: Loading

    /// The packs shipped with the server, copied into the PlatformServer bundle from
    /// `Concierge/PackData`.
    public static func bundled() throws -> IndustryPackCatalog {
        guard let directory = Bundle.module.url(forResource: "PackData", withExtension: nil) else {
            throw IndustryPackCatalogError(directory: "PackData", problems: [
                .init(file: "PackData", field: "", message: "is missing from the PlatformServer bundle; the target must copy Concierge/PackData as a resource"),
            ])
        }
        return try load(from: directory)
    }

    /// Every `*.json` file in `directory`, checked. Throws ``IndustryPackCatalogError`` listing
    /// every problem in every file, so one start shows everything there is to fix.
    public static func load(from directory: URL) throws -> IndustryPackCatalog {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }
                .sorted { $0.lastPathComponent < $1.lastPathComponent }
        } catch {
            throw IndustryPackCatalogError(directory: directory.path, problems: [
                .init(file: directory.lastPathComponent, field: "", message: "cannot be read: \(error.localizedDescription)"),
            ])
        }
        var packs: [String: IndustryPack] = [:]
        var problems: [IndustryPackCatalogError.Problem] = []
        for file in files {
            switch read(file) {
            case .success(let pack): packs[file.deletingPathExtension().lastPathComponent] = pack
            case .failure(let found): problems += found.problems
            }
        }
        let fallbackFile = fallbackID + ".json"
        if !files.contains(where: { $0.lastPathComponent == fallbackFile }) {
            problems.append(.init(
                file: fallbackFile, field: "",
                message: "is missing: the generic pack is what tenants of industries without their own pack get"))
        }
        guard problems.isEmpty, let fallback = packs[fallbackID] else {
            throw IndustryPackCatalogError(directory: directory.path, problems: problems)
        }
        return IndustryPackCatalog(packs: packs, fallback: fallback)
    }

    private struct FileProblems: Error {
        var problems: [IndustryPackCatalogError.Problem]
    }

    /// One pack file, parsed strictly (an unknown field is a typo, not something to skip) and
    /// checked, with its name and version set.
    private static func read(_ file: URL) -> Result<IndustryPack, FileProblems> {
        let fileName = file.lastPathComponent
        let id = file.deletingPathExtension().lastPathComponent
        func problem(_ field: String, _ message: String) -> Result<IndustryPack, FileProblems> {
            .failure(FileProblems(problems: [.init(file: fileName, field: field, message: message)]))
        }
        guard IndustryPackRules.idPattern.matches(id) else {
            return problem("", "the file name is the pack's id: a lowercase letter, then up to 62 lowercase letters, digits or underscores, then .json")
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            return problem("", "cannot be read: \(error.localizedDescription)")
        }
        var pack: IndustryPack
        do {
            var options = JSONDecodingOptions()
            options.ignoreUnknownFields = false
            pack = try IndustryPack(jsonUTF8Data: data, options: options)
        } catch {
            return problem("", "is not an IndustryPack in the protobuf JSON mapping: \(describe(error))")
        }
        let violations = IndustryPackRules.violations(in: pack)
        guard violations.isEmpty else {
            return .failure(FileProblems(problems: violations.map { .init(file: fileName, field: $0.field, message: $0.description) }))
        }
        pack.name = name(id: id)
        pack.version = SHA256.hash(data: data).prefix(6).hex
        return .success(pack)
    }

    /// The parser's error, with what to do about the usual ones.
    private static func describe(_ error: any Error) -> String {
        guard let decoding = error as? JSONDecodingError else { return "\(error)" }
        switch decoding {
        case .unknownField(let field):
            return "it has no field \"\(field)\"; check the spelling against IndustryPack in servicepro/concierge/v1/industry_pack.proto"
        case .unrecognizedEnumValue:
            return "an enum value is not one of the proto's value names, e.g. SMS_TEMPLATE_KIND_REMINDER"
        case .malformedDuration:
            return "a duration is malformed; write seconds followed by s, e.g. \"3600s\""
        default:
            return "\(decoding)"
        }
    }
}

/// Why the industry packs could not be loaded: every problem found, each naming its file and
/// field and saying what to fix.
public struct IndustryPackCatalogError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        /// The pack file, e.g. `lawn_care.json`.
        public var file: String
        /// The field, e.g. `services[1].name`; empty when the problem is the whole file.
        public var field: String
        public var message: String

        public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field) \(message)" }
    }

    /// Where the pack files were read from.
    public var directory: String
    public var problems: [Problem]

    public var description: String {
        "the industry packs in \(directory) are not valid; fix them and start again:\n"
            + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}
