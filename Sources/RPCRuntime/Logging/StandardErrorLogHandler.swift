#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// The servers' log handler: swift-log's `StreamLogHandler` line, to standard error, at a price
/// a line per call can pay.
///
/// A line is one event: control characters in a value or the message (a line break in an error
/// that quotes a request, say) are escaped, so no value can start a line of its own and pass for
/// another event.
///
/// `StreamLogHandler` formats its timestamp with `localtime`, which glibc makes re-check the time
/// zone file (a `stat` under a process-wide lock) on every call unless `TZ` is set; with one line
/// per RPC that was a sixth of an inbound text's cost. Here the timestamp is formatted once a
/// second, and a line goes out in one `write` under a lock (as `StreamLogHandler` holds
/// `flockfile`), so lines from different threads do not interleave.
///
/// ```
/// 2026-11-27T07:33:39+0000 info servicepro.platform: code=ok latency_ms=1.2 method=… [RPCRuntime] rpc
/// ```
public struct StandardErrorLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:]

    public init(label: String, logLevel: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let explicit = event.metadata { fields.merge(explicit) { $1 } }
        if let error = event.error {
            fields["error.message"] = "\(error)"
            fields["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = Self.timestamp.now()
        line += " \(event.level)"
        if !label.isEmpty { line += " " + label }
        line += ":"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=" + "\(value)".escapedToOneLine
        }
        line += " [\(event.source)] " + "\(event.message)".escapedToOneLine + "\n"
        Self.emit(line)
    }

    /// One `write` for the whole line, continued if the kernel takes only part of it. A line that
    /// cannot be written (stderr closed, or non-blocking and full) is dropped: there is nowhere
    /// left to say so.
    private static func emit(_ line: String) {
        var line = line
        output.withLock { _ in line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        } }
    }

    private static let timestamp = SecondTimestamp()
    /// Held while a line is written, so that a line the kernel takes in parts stays whole.
    private static let output = Mutex(())
}

/// Local time as `StreamLogHandler` writes it (`%Y-%m-%dT%H:%M:%S%z`), formatted once a second.
private final class SecondTimestamp: Sendable {
    private let cache = Mutex<(second: time_t, text: String)>((-1, ""))

    func now() -> String {
        let second = time(nil)
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        var seconds = second
        var local = tm()
        var buffer = [CChar](repeating: 0, count: 64)
        // localtime_r, unlike localtime, reads the time zone once per process, not per call.
        guard localtime_r(&seconds, &local) != nil, strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local) > 0 else {
            return "<unknown>"
        }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (second, text) }
        return text
    }
}
