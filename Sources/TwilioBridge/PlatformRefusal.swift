import GRPCCore
import RPCRuntime

/// How the bridge reads a platform call's failure: whether to keep a text for later.
extension RPCError {
    /// The platform's verdict on the request itself: a field it refuses, a MessageSid it holds
    /// for another number. Sending the same request again cannot succeed, so a text is answered
    /// or dropped. Every other failure may pass later and keeps the text: the platform away,
    /// slow or overloaded, a platform that does not know the method yet (a rolling deploy), and
    /// a platform that refuses the bridge's own key (see `refusesBridge`).
    var isVerdictOnRequest: Bool {
        [.invalidArgument, .alreadyExists, .outOfRange, .failedPrecondition, .notFound].contains(code)
    }

    /// The platform refuses the bridge: its token is wrong, revoked or lacks the bridge's role.
    /// Texts wait in the spool until an operator gives the bridge a good token.
    var refusesBridge: Bool {
        [.unauthenticated, .permissionDenied].contains(code)
    }

    /// The platform takes texts, but not this tenant's for now: they arrive faster than it
    /// stores them (`inbound_backlog`). Others' texts go on.
    var isTenantBacklog: Bool {
        code == .unavailable && errorInfoReason == "inbound_backlog"
    }

    /// The platform could not finish this request now: it lost a race for a row (ABORTED), ran
    /// short of something (RESOURCE_EXHAUSTED), or took longer than the caller waits. Like a
    /// tenant's backlog, it says nothing about whether the platform can take other requests.
    var delaysThisRequest: Bool {
        isTenantBacklog || [.aborted, .resourceExhausted, .deadlineExceeded].contains(code)
    }

    /// The platform took the call and failed on it: a fault in handling this request, which
    /// the next attempt may meet again. Unlike UNAVAILABLE, it says nothing about whether the
    /// platform can take other calls.
    var failsThisRequest: Bool {
        [.internalError, .unknown, .dataLoss, .unimplemented].contains(code)
    }

    /// What an operator reads when `refusesBridge`.
    static let refusedBridgeAdvice = "the platform refuses the bridge's token: texts wait in the spool; give the bridge a valid token (--token-file)"
}
