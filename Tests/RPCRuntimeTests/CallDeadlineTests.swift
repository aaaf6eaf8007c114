import Foundation
import GRPCCore
import NIOPosix
import Synchronization
import Testing
import RPCRuntime

@Suite("Call deadline")
struct CallDeadlineTests {
    let deadline = CallDeadline(timeout: .milliseconds(300))

    @Test("a call that answers in time returns its answer")
    func answersInTime() async throws {
        #expect(try await deadline.run { "answer" } == "answer")
    }

    @Test("a call's own error passes through unchanged")
    func errorsPassThrough() async throws {
        // Generous: on a loaded machine even an immediate throw can take longer than 300 ms.
        let generous = CallDeadline(timeout: .seconds(30))
        let error = await #expect(throws: RPCError.self) {
            try await generous.run { () async throws -> String in throw RPCError(code: .notFound, message: "no such tenant") }
        }
        #expect(error?.code == .notFound)
    }

    @Test("a call past the deadline is cancelled and DEADLINE_EXCEEDED thrown, on time")
    func cancelsAtTheDeadline() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            try await deadline.run { () async throws -> Bool in
                // Cancellation makes the sleep throw, and the call ends with it.
                try await Task.sleep(for: .seconds(30))
                return true
            }
        }
        let waited = ContinuousClock.now - started
        #expect(error?.code == .deadlineExceeded)
        #expect(waited >= deadline.timeout && waited < .seconds(3), "gave up after \(waited)")
    }

    @Test("an answer that lands after the deadline, before the timer fired, is the call's own")
    func lateAnswerIsNotRelabelled() async throws {
        // The timer's only thread is busy until the call has ended, however long a loaded
        // machine makes that take, so the timer cannot fire first.
        let timers = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let callEnded = DispatchSemaphore(value: 0)
        timers.any().execute { _ = callEnded.wait(timeout: .now() + 30) }
        let deadline = CallDeadline(timeout: .milliseconds(100), timers: timers)
        let error = await #expect(throws: RPCError.self) {
            try await deadline.run { () async throws -> Bool in
                try await Task.sleep(for: .milliseconds(300))
                throw RPCError(code: .notFound, message: "no such tenant")
            }
        }
        callEnded.signal()
        #expect(error?.code == .notFound, "a refusal stays a refusal, whatever the clock says")
        try await timers.shutdownGracefully()
    }

    @Test("cancelling the caller cancels the call")
    func callerCancellationReachesTheCall() async throws {
        let generous = CallDeadline(timeout: .seconds(30))
        let started = ContinuousClock.now
        let caller = Task { try await generous.run { try await Task.sleep(for: .seconds(30)) } }
        try await Task.sleep(for: .milliseconds(50))
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    /// A call that cancelling does not end: it waits for `release`, as a text waits for its
    /// batch's call.
    final class Unstoppable: Sendable {
        private let state = Mutex<(released: Bool, waiting: CheckedContinuation<Void, Never>?)>((false, nil))

        func call() async -> String {
            await withCheckedContinuation { continuation in
                let released = state.withLock { state in
                    if !state.released { state.waiting = continuation }
                    return state.released
                }
                if released { continuation.resume() }
            }
            return "late"
        }

        func release() {
            let waiting = state.withLock { state in
                state.released = true
                defer { state.waiting = nil }
                return state.waiting
            }
            waiting?.resume()
        }
    }

    @Test("race: the answer when it comes in time; DEADLINE_EXCEEDED at the timer even from a call that does not stop when cancelled")
    func raceAnswersAtTheDeadline() async throws {
        // Generous: on a loaded machine even an immediate answer can take longer than 300 ms.
        #expect(try await CallDeadline(timeout: .seconds(30)).race { "answer" } == "answer")
        let unstoppable = Unstoppable()
        let started = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) { try await deadline.race { await unstoppable.call() } }
        let waited = ContinuousClock.now - started
        unstoppable.release()
        #expect(error?.code == .deadlineExceeded)
        #expect(waited >= deadline.timeout && waited < .seconds(3), "gave up after \(waited)")
    }

    @Test("race: cancelling the caller answers at once, the call still out")
    func raceCancelledCaller() async throws {
        let generous = CallDeadline(timeout: .seconds(30))
        let unstoppable = Unstoppable()
        let started = ContinuousClock.now
        let caller = Task { try await generous.race { await unstoppable.call() } }
        try await Task.sleep(for: .milliseconds(50))
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
        #expect(ContinuousClock.now - started < .seconds(5))
        unstoppable.release()
    }

    @Test("race: a caller cancelled before it asks gets CancellationError, and the call is never started")
    func raceAlreadyCancelled() async throws {
        let started = Mutex(false)
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await CallDeadline(timeout: .seconds(30)).race { started.withLock { $0 = true } }
        }
        await #expect(throws: CancellationError.self) { try await caller.value }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!started.withLock { $0 })
    }
}
