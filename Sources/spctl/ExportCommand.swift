import ArgumentParser
import Crypto
import Foundation
import GRPCCore
import RPCRuntime
import ServiceProAPI

/// `spctl export start|status|download`: take a tenant's data away, with progress on stderr and
/// the archive checked against its SHA-256. A broken download resumes where it stopped.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a tenant's data: start an export, follow it, download the archive.",
        discussion: """
            spctl export start acme --wait
            spctl export download tenants/acme/exports/<id> --to acme.zip

            The archive is a ZIP with a CSV and a JSON Lines file per entity and manifest.json. \
            Downloads resume from <to>.part and are checked against the export's SHA-256.
            """,
        subcommands: [Start.self, Status.self, Download.self]
    )

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start an export of a tenant's data.")

        @OptionGroup var call: CallOptions

        @Argument(help: "The tenant: its id or tenants/{id}.")
        var tenant: String

        @Option(name: .customLong("entity"), help: "Export only this entity (repeatable): customers, appointments, invoices, messages, calls, catalog.")
        var entities: [String] = []

        @Option(name: .customLong("request-id"), help: "Retries with the same id return the first export.")
        var requestID: String?

        @Flag(help: "Wait until the archive is ready, showing progress.")
        var wait = false

        func run() async throws {
            let parent = tenant.hasPrefix("tenants/") ? tenant : "tenants/\(tenant)"
            var request = StartExportRequest.with { $0.parent = parent; $0.requestID = requestID ?? "" }
            for entity in entities {
                guard let value = ExportEntity.allCases.first(where: { "\($0)".lowercased() == entity.lowercased() }), value != .unspecified else {
                    throw ValidationError("unknown entity \"\(entity)\"; use customers, appointments, invoices, messages, calls or catalog")
                }
                request.entities.append(value)
            }
            let started = request
            var job = try await call.answer { client, metadata in
                try await ExportService.Client(wrapping: client).startExport(started, metadata: metadata)
            }
            if wait { job = try await ExportCommand.follow(job.name, call: call) }
            try OutputPrinter(format: call.output).print(job)
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an export's state and progress.")

        @OptionGroup var call: CallOptions

        @Argument(help: "tenants/{tenant}/exports/{export}")
        var name: String

        @Flag(help: "Wait until the archive is ready, showing progress.")
        var wait = false

        func run() async throws {
            let job = wait ? try await ExportCommand.follow(name, call: call) : try await ExportCommand.get(name, call: call)
            try OutputPrinter(format: call.output).print(job)
        }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download an export's archive, resuming a broken download, and check its SHA-256.")

        @OptionGroup var call: CallOptions

        @Argument(help: "tenants/{tenant}/exports/{export}")
        var name: String

        @Option(name: .customLong("to"), help: "Where to save the archive (default: <export>.zip).")
        var destination: String?

        @Flag(help: "Replace the file at the destination if there is one.")
        var clobber = false

        func run() async throws {
            let path = destination ?? "\(name.split(separator: "/").last ?? "export").zip"
            // As gh does: a file already there (another tenant's archive, say) is not lost unasked.
            if !clobber, FileManager.default.fileExists(atPath: path) {
                throw CommandFailure("\(path) already exists; pass --clobber to replace it, or --to another file")
            }
            let partial = path + ".part"
            let job = try await call.connected { client, metadata in
                let exports = ExportService.Client(wrapping: client)
                // The archive's size and checksum come first, so what is saved is always checked,
                // even when the partial file already holds all of it.
                let job = try await exports.getExport(.with { $0.name = name }, metadata: metadata)
                guard job.state == .succeeded else {
                    // Not ready, failed or expired: the server's refusal says why, and nothing is
                    // written. Should it have finished just now, the next run downloads it.
                    try await exports.downloadExport(.with { $0.name = name }, metadata: metadata) { response in
                        for try await _ in response.messages { break }
                    }
                    throw CommandFailure("\(name) has just finished; run the command again to download it")
                }
                let kept = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.int64Value ?? 0
                if kept > job.sizeBytes {
                    StandardError.say("\(partial) is longer than the archive, so not part of it; starting over")
                    try FileManager.default.removeItem(atPath: partial)
                }
                // Customer data: readable by its owner only.
                if !FileManager.default.fileExists(atPath: partial),
                   !FileManager.default.createFile(atPath: partial, contents: nil, attributes: [.posixPermissions: 0o600]) {
                    throw CommandFailure("cannot create \(partial); check that its directory exists and is writable, or pass another destination")
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: partial))
                let offset = try handle.seekToEnd()
                let bar = ProgressBar(label: "downloading")
                if Int64(offset) < job.sizeBytes {
                    let request = DownloadExportRequest.with { $0.name = name; $0.offset = Int64(offset) }
                    try await exports.downloadExport(request, metadata: metadata) { response in
                        for try await chunk in response.messages {
                            guard UInt64(chunk.offset) == (try handle.offset()) else {
                                throw CommandFailure("the server sent bytes from \(chunk.offset), not where the file ends; delete \(partial) and retry")
                            }
                            try handle.write(contentsOf: chunk.data)
                            bar.update(done: chunk.offset + Int64(chunk.data.count), total: chunk.totalSize)
                        }
                    }
                }
                try handle.close()
                bar.finish()
                return job
            }
            let expected = job.sha256
            let actual = try Self.sha256(path: partial)
            if actual != expected {
                try? FileManager.default.removeItem(atPath: partial)
                throw CommandFailure("the download's SHA-256 is \(actual), the export's is \(expected); the partial file was removed, run the command again")
            }
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.moveItem(atPath: partial, toPath: path)
            switch call.output {
            case .table: print("\(path)  sha256 \(actual)  verified")
            case .json: try OutputPrinter.printJSON(["path": path, "sha256": actual, "size_bytes": job.sizeBytes, "export": name])
            }
        }

        static func sha256(path: String) throws -> String {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            var hasher = SHA256()
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
            return hasher.finalize().map { String(format: "%02x", $0) }.joined()
        }
    }

    static func get(_ name: String, call: CallOptions) async throws -> ExportJob {
        try await call.answer { client, metadata in
            try await ExportService.Client(wrapping: client).getExport(.with { $0.name = name }, metadata: metadata)
        }
    }

    /// Polls until the export leaves pending and running, drawing its progress.
    static func follow(_ name: String, call: CallOptions) async throws -> ExportJob {
        let bar = ProgressBar(label: "exporting")
        while true {
            let job = try await get(name, call: call)
            bar.update(done: Int64(job.progressPercent), total: 100)
            if job.state != .pending, job.state != .running {
                bar.finish()
                if job.state == .failed {
                    throw CommandFailure("\(name) failed: \(job.error)")
                }
                return job
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}

/// A one-line progress bar on stderr, redrawn in place when stderr is a terminal and printed
/// at most every 10% otherwise, so logs stay readable.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastShown = -1

    init(label: String) { self.label = label }

    func update(done: Int64, total: Int64) {
        // Both numbers come from the server; a bar is never drawn past its ends.
        let percent = total > 0 ? min(max(Int(done * 100 / total), 0), 100) : 100
        guard percent != lastShown, interactive || percent / 10 != lastShown / 10 || lastShown < 0 else { return }
        lastShown = percent
        let width = 30
        let filled = width * percent / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let line = "\(label) [\(bar)] \(percent)%" + (total > 100 ? " \(Self.bytes(done))/\(Self.bytes(total))" : "")
        StandardError.say(interactive ? "\r" + line : line, terminator: interactive ? "" : "\n")
    }

    func finish() {
        if interactive, lastShown >= 0 { StandardError.say("") }
    }

    static func bytes(_ count: Int64) -> String {
        count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / Double(1 << 20)) : "\(count / 1024) KiB"
    }
}
