import GRPCCore

/// The typed stage of the pipeline, called by generated registrations once the interceptors have
/// authenticated the caller: normalizes and validates the request, resolves and checks its tenant, applies the
/// suspension and plan gates, runs the handler, and turns unexpected errors into INTERNAL.
public enum RPCPipeline {
    public static func unary<Method: RPCMethod>(
        _ method: Method.Type,
        request: StreamingServerRequest<Method.Input>,
        context: ServerContext,
        handler: @Sendable (Method.Input, RequestContext) async throws -> Method.Output
    ) async throws -> StreamingServerResponse<Method.Output> {
        let callContext = try boundContext()
        var message = try await ServerRequest(stream: request).message
        message.normalize()
        let requestContext = try await admit(Method.self, message, callContext)
        let input = message
        let output = try await guarded { try await handler(input, requestContext) }
        return StreamingServerResponse(single: ServerResponse(message: output))
    }

    public static func serverStreaming<Method: RPCMethod>(
        _ method: Method.Type,
        request: StreamingServerRequest<Method.Input>,
        context: ServerContext,
        handler: @escaping @Sendable (Method.Input, RequestContext, RPCWriter<Method.Output>) async throws -> Void
    ) async throws -> StreamingServerResponse<Method.Output> {
        let callContext = try boundContext()
        var message = try await ServerRequest(stream: request).message
        message.normalize()
        let requestContext = try await admit(Method.self, message, callContext)
        let input = message
        return StreamingServerResponse { writer in
            try await guarded { try await handler(input, requestContext, writer) }
            return [:]
        }
    }

    private static func boundContext() throws -> RequestContext {
        guard let context = RequestContext.current else {
            throw ServiceError.internal("RPCPipeline ran without AuthenticationInterceptor")
        }
        return context
    }

    /// Everything the policy says must hold before the handler runs, in the design's order: the
    /// tenant the request is for, its suspension and plan gates, then the request's fields. The
    /// resource the request names is recorded first, for the audit event of a call that fails.
    static func admit<Method: RPCMethod>(_ method: Method.Type, _ message: Method.Input, _ context: RequestContext) async throws -> RequestContext {
        var context = context
        let resource = Method.resourceName(of: message) ?? ""
        CallRecord.current?.resourceName = resource
        if context.policy.scope == .tenant {
            guard let tenantID = ResourceName.tenantID(of: resource) else {
                // No tenant to check: the refusal names the resource's own field (`parent`,
                // `tenant.name`, ...), with whatever else is wrong in the request.
                let field = Method.tenantResourceField ?? "name"
                var violations = message.fieldViolations
                // Unless a rule already refused it, or the message holding it (`tenant` is required).
                if !violations.contains(where: { $0.field == field || field.hasPrefix($0.field + ".") }) {
                    violations.insert(FieldViolation(field: field, description: "must be a resource name under tenants/{tenant}"), at: 0)
                }
                throw ServiceError.invalidArgument(violations)
            }
            if tenantID == ResourceName.allTenants {
                // `tenants/-` lists across tenants: platform roles only; to anyone else it does not exist.
                guard context.principal.role.isPlatform else { throw ServiceError.notFound(resource) }
                context.tenantID = nil
                context.acrossTenantsField = Method.tenantResourceField ?? "name"
            } else {
                // Another tenant's resource looks exactly like a missing one.
                if !context.principal.role.isPlatform, tenantID != context.principal.tenantID {
                    throw ServiceError.notFound(resource)
                }
                context.tenantID = tenantID
            }
        }
        CallRecord.current?.tenantID = context.tenantID
        if let tenantID = context.tenantID {
            try await checkGates(tenantID: tenantID, context: context)
        }
        let violations = message.fieldViolations
        guard violations.isEmpty else { throw ServiceError.invalidArgument(violations) }
        return context
    }

    private static func checkGates(tenantID: String, context: RequestContext) async throws {
        guard let access = try await guarded({ try await context.tenantDirectory.access(tenantID: tenantID) }) else {
            // What remains of a deleted tenant is its audit trail, for the platform to read.
            if context.policy.allowedAfterDeletion, [.platformOwner, .platformStaff].contains(context.principal.role),
               try await guarded({ try await context.tenantDirectory.wasDeleted(tenantID: tenantID) }) {
                return
            }
            throw ServiceError.notFound(ResourceName.tenant(tenantID))
        }
        let allowed: Bool
        switch access.status {
        case .suspended: allowed = context.policy.allowedWhileSuspended
        case .cancelled: allowed = context.policy.allowedWhileCancelled
        case .active, .trialing, .pastDue: allowed = true
        }
        guard allowed else {
            throw ServiceError.failedPrecondition(
                reason: "tenant_\(access.status.rawValue)",
                message: access.status == .suspended
                    ? "tenants/\(tenantID) is suspended: only reads, billing and export are allowed"
                    : "tenants/\(tenantID) is cancelled: only export (until its retention window ends), reading the tenant, its billing and its audit trail, and listing and revoking its API keys are allowed; platform staff can reactivate it",
                metadata: ["tenant": tenantID, "status": access.status.rawValue])
        }
        if let feature = context.policy.requiredFeature {
            try PlanCatalog.require(feature, in: access.tier)
        }
        // Partner integrations are a plan feature of their own, whichever method they call.
        if context.principal.role == .partner {
            try PlanCatalog.require(.partnerAPI, in: access.tier)
        }
    }

    /// Domain and RPC errors pass through; anything else becomes what `ServiceError(_:)` makes of
    /// it: CANCELLED for a cancellation, else INTERNAL, its detail for the call log only, so none
    /// leaks to clients.
    static func guarded<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw error
        } catch let error as any RPCErrorConvertible & Error {
            throw error
        } catch {
            throw ServiceError(error)
        }
    }
}
