import GRPCCore
import Logging
import RPCRuntime
import ServiceLifecycle
import ServiceProAPI

/// Keeps the bridge's outage answer current: as the bridge starts and every `interval` after, it
/// reads where every line's callers go (`ListFallbackRoutes`) and keeps that, in memory and in the
/// spool's file, in place of what it knew. Between reads, each answered call still updates its
/// own number (`VoiceFallback.remember`).
///
/// Without it the bridge knew a line only from its last answered call: a line whose forward
/// number changed, or whose number moved to another business, was rung as it had been, and a line
/// never called since the bridge started got the platform-wide number, another business's.
///
/// A read that fails changes nothing: the outage answer stays what it was, and the next read is
/// `interval` later (a platform that is away is what the answer is for).
struct FallbackRouteSync<Transport: ClientTransport>: Service {
    let platform: PlatformClient<Transport>
    let spool: MessageSpool
    let fallback: VoiceFallback
    let interval: Duration
    let deadline = CallDeadline(timeout: .seconds(10))
    let logger: Logger

    /// The most lines asked for at a time.
    static var pageSize: Int32 { 1_000 }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await sync()
                    if failing { logger.info("read the lines' forward numbers again") }
                    failing = false
                } catch {
                    // Once per run of failures: the platform away is what the outage answer is for.
                    if !failing {
                        logger.warning("could not read the lines' forward numbers; callers in an outage are put through as last known", metadata: ["error": "\(error)"])
                    }
                    failing = true
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// Reads every line's forward number and keeps them.
    func sync() async throws {
        let inbound = InboundService.Client(wrapping: platform.grpc)
        let readStart = ContinuousClock.now
        var routes: [String: String] = [:]
        var pageToken = ""
        repeat {
            let request = ListFallbackRoutesRequest.with { $0.pageSize = Self.pageSize; $0.pageToken = pageToken }
            let page = try await deadline.run { try await inbound.listFallbackRoutes(request, metadata: platform.metadata) }
            for route in page.routes { routes[route.phoneNumber] = route.forwardNumber }
            // A token given back unchanged would read the same page for ever.
            guard page.nextPageToken != pageToken else { break }
            pageToken = page.nextPageToken
        } while !pageToken.isEmpty
        let known = fallback.adopt(routes, readSince: readStart)
        do {
            try await spool.replaceForwardNumbers(with: known)
            fallback.saved(known)
        } catch {
            // Still right in memory; the file catches up with the next read or answered call.
            logger.warning("could not keep the lines' forward numbers for a restart", metadata: ["error": "\(error)"])
        }
    }
}
