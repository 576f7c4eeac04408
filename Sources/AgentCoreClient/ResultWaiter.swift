import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Synchronization

/// Matches result events to waiting callers by command id, through one consumer that lives
/// as long as its client: assigned (no group) to every partition of the status and
/// heartbeats topics from their ends as of start-up, on a thread of its own.
///
/// Memory is bounded by the callers waiting: events of commands nobody waits for are
/// dropped as they are read.
final class ResultWaiter: Sendable {
    /// One caller's wait: registered before its command is sent (so that no event is
    /// missed), given its continuation and deadline once the command is out.
    private struct Waiter {
        var continuation: CheckedContinuation<[Event], any Error>?
        var events: [Event] = []
        var deadline = UInt64.max
        var timeoutSeconds: Double
        /// When the last event arrived (uptime nanoseconds); done `settle` after it.
        var lastEventAt: UInt64?
        /// Why the wait ended before it had a continuation (cancelled while sending).
        var failure: (any Error)?
        /// Ends the wait as soon as it holds for the events so far (no settle).
        var complete: (@Sendable ([Event]) -> Bool)?
    }

    private let consumer: KafkaConsumer
    private let waiters = Mutex<[String: Waiter]>([:])
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    private let settleNanos: UInt64
    private let logger: Logger

    /// Reads the ends of `topics` first: a command sent after `init` returns has all its
    /// events at or after them.
    init(config: KafkaConfig, topics: [String], settle: Duration, logger: Logger) throws {
        var options = ConsumerOptions(groupId: "agentcore-client-\(UUID().uuidString)")  // never joined: `assign` only
        options.prefetchKiB = 4_096
        consumer = try KafkaConsumer(config: config, options: options, logger: logger)
        self.logger = logger
        settleNanos = UInt64(settle.components.seconds) * 1_000_000_000 + UInt64(settle.components.attoseconds / 1_000_000_000)
        var start: [TopicPartitionOffset] = []
        do {
            for topic in topics {
                guard let n = try consumer.partitionCount(topic: topic) else {
                    throw KafkaError.invalidArgument("topic \(topic) does not exist")
                }
                for p in 0..<Int32(n) {
                    let tp = TopicPartition(topic, p)
                    start.append(TopicPartitionOffset(tp, offset: try consumer.watermarks(tp).high))
                }
            }
            try consumer.assign(start)
        } catch {
            consumer.close()
            throw error
        }
        let thread = Thread { [self] in
            defer { done.signal() }
            while running.load(ordering: .acquiring) { pollOnce() }
        }
        thread.name = "agentcore-client-results"
        thread.start()
    }

    /// Waits for the events of `commandId`, registered before `send` runs (so none is
    /// missed); `send` enqueues the command, in the caller's task, and the timeout counts
    /// from when it returned. Throws `AgentCoreClient.Timeout`, `CancellationError` when
    /// the calling task is cancelled, or what `send` threw.
    func wait(
        for commandId: String,
        timeout: Duration,
        complete: (@Sendable ([Event]) -> Bool)? = nil,
        send: () async throws -> Void
    ) async throws -> [Event] {
        let timeoutNanos =
            UInt64(max(0, timeout.components.seconds)) * 1_000_000_000
            + UInt64(max(0, timeout.components.attoseconds) / 1_000_000_000)
        let seconds = Double(timeoutNanos) / 1e9
        let taken = waiters.withLock { w -> Bool in
            if w[commandId] != nil { return false }
            w[commandId] = Waiter(timeoutSeconds: seconds, complete: complete)
            return true
        }
        guard taken else { throw KafkaError.invalidArgument("command \(commandId) is being waited for already") }
        do {
            try Task.checkCancellation()
            try await send()
        } catch {
            _ = waiters.withLock { $0.removeValue(forKey: commandId) }
            throw error
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Event], any Error>) in
                let early = waiters.withLock { w -> (any Error)? in
                    guard var entry = w[commandId] else { return CancellationError() }
                    if let failure = entry.failure {
                        w[commandId] = nil
                        return failure
                    }
                    entry.continuation = c
                    entry.deadline = DispatchTime.now().uptimeNanoseconds + timeoutNanos
                    w[commandId] = entry
                    return nil
                }
                if let early { c.resume(throwing: early) }
            }
        } onCancel: {
            cancel(commandId)
        }
    }

    private func cancel(_ id: String) {
        let c = waiters.withLock { w -> CheckedContinuation<[Event], any Error>? in
            guard var entry = w[id] else { return nil }
            guard let c = entry.continuation else {
                entry.failure = CancellationError()  // seen when the continuation arrives
                w[id] = entry
                return nil
            }
            w[id] = nil
            return c
        }
        c?.resume(throwing: CancellationError())
    }

    private func pollOnce() {
        let batch = consumer.poll(maxRecords: 1_000, timeoutMs: 20)
        let now = DispatchTime.now().uptimeNanoseconds
        var finished: [(CheckedContinuation<[Event], any Error>, Result<[Event], any Error>)] = []
        waiters.withLock { w in
            if !w.isEmpty {
                for r in batch.records {
                    // Cheap test first: most records are other commands' events.
                    guard let v = r.value, let e = try? Event(bytes: v), let id = e.commandId, w[id] != nil else { continue }
                    if !w[id]!.events.contains(where: { $0.id == e.id }) { w[id]!.events.append(e) }
                    w[id]!.lastEventAt = now
                }
            }
            for (id, waiter) in w where waiter.continuation != nil {
                if let last = waiter.lastEventAt, now &- last >= settleNanos || waiter.complete?(waiter.events) == true {
                    finished.append((waiter.continuation!, .success(waiter.events)))
                    w[id] = nil
                } else if now >= waiter.deadline {
                    finished.append((waiter.continuation!, .failure(AgentCoreClient.Timeout(commandId: id, seconds: waiter.timeoutSeconds))))
                    w[id] = nil
                }
            }
        }
        // Resumed outside the lock: a resumed caller may wait again at once.
        for (c, r) in finished { c.resume(with: r) }
    }

    /// Stops the thread; waiting callers get `CancellationError`.
    func close() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        done.wait()
        let left = waiters.withLock { w in
            defer { w.removeAll() }
            return Array(w.values)
        }
        for w in left { w.continuation?.resume(throwing: CancellationError()) }
        consumer.close()
    }
}
