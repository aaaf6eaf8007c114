import Logging
import ServiceLifecycle

extension ServiceGroupConfiguration {
    /// How the platform's processes run: until SIGTERM or SIGINT, then a graceful stop in which
    /// calls in flight get `grace` to finish before what is left is cancelled. Without a limit one
    /// call whose client stopped reading (a download left suspended in a terminal) holds the
    /// stop for ever, and a second signal does not help.
    ///
    /// ```swift
    /// try await ServiceGroup(configuration: .servingUntilSignalled(services, logger: logger)).run()
    /// ```
    public static func servingUntilSignalled(_ services: [any Service], grace: Duration = .seconds(30), logger: Logger) -> ServiceGroupConfiguration {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        return configuration
    }
}
