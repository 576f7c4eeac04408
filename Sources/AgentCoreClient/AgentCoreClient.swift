import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Synchronization

/// Producer plus result correlation: `enqueueAndWait` sends a command and returns the
/// events it caused, matched by command id on the status and heartbeats topics by one
/// consumer the client starts on its first wait and keeps (no group, no join per call).
public final class AgentCoreClient: Sendable {
    public let producer: AgentCoreProducer
    let config: KafkaConfig
    let topicPrefix: String
    let logger: Logger
    /// How long after a command's last event its wait ends: a worker publishes all the
    /// events of one command in one round, so they arrive together.
    public let settle: Duration
    private let waiter = Mutex<ResultWaiter?>(nil)

    public init(
        config: KafkaConfig,
        topicPrefix: String = "agentcore",
        settle: Duration = .milliseconds(50),
        logger: Logger = .library("agentcore.client")
    ) throws {
        self.config = config
        self.topicPrefix = topicPrefix
        self.logger = logger
        self.settle = settle
        producer = try AgentCoreProducer(config: config, topicPrefix: topicPrefix, logger: logger)
    }

    deinit { waiter.withLock { $0?.close() } }

    /// Why `enqueueAndWait` gave up.
    public struct Timeout: Error, CustomStringConvertible {
        public var commandId: String
        public var seconds: Double
        public var description: String { "no result for command \(commandId) within \(seconds) s" }
    }

    /// Sends `command` and waits for its result events (every event carrying its id, until
    /// `settle` passes without another). Throws `Timeout` when none arrives within
    /// `timeout`, `CancellationError` when the task is cancelled, or the producer's error.
    public func enqueueAndWait(_ command: CommandEnvelope, timeout: Duration = .seconds(30)) async throws -> [Event] {
        let waiter = try resultWaiter()
        return try await waiter.wait(for: command.id, timeout: timeout) { _ = try await producer.enqueue(command) }
    }

    /// `enqueueAndWait`, ended as soon as `until` holds for the events so far instead of
    /// `settle` after the last one: for callers that know which event answers their
    /// command (e.g. `Self.answered(by:)`).
    public func enqueueAndWait(
        _ command: CommandEnvelope,
        timeout: Duration = .seconds(30),
        until: @escaping @Sendable ([Event]) -> Bool
    ) async throws -> [Event] {
        let waiter = try resultWaiter()
        return try await waiter.wait(for: command.id, timeout: timeout, complete: until) { _ = try await producer.enqueue(command) }
    }

    /// An `until` for `enqueueAndWait`: the command is answered once one of `types`, or a
    /// `command.rejected`, has arrived (a command's events arrive in order, so the last
    /// one it causes is the one to name).
    public static func answered(by types: Set<EventType>) -> @Sendable ([Event]) -> Bool {
        { events in events.contains { $0.type == .commandRejected || types.contains($0.type) } }
    }

    @available(*, deprecated, renamed: "enqueueAndWait(_:timeout:)")
    public func enqueueAndWait(_ command: CommandEnvelope, timeoutSeconds: Double) async throws -> [Event] {
        try await enqueueAndWait(command, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
    }

    /// Stops the result consumer (waiting callers get `CancellationError`) and closes the
    /// producer after flushing it (up to `timeout`).
    public func close(timeout: Duration = .seconds(10)) {
        let w = waiter.withLock { w -> ResultWaiter? in
            defer { w = nil }
            return w
        }
        w?.close()
        producer.close(timeoutMs: Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000))
    }

    private func resultWaiter() throws -> ResultWaiter {
        try waiter.withLock { w in
            if let w { return w }
            let made = try ResultWaiter(
                config: config,
                topics: ["\(topicPrefix).status", "\(topicPrefix).heartbeats"],
                settle: settle,
                logger: logger
            )
            w = made
            return made
        }
    }

    /// The earlier way, kept to measure the new one against (`agentcore bench client`): a
    /// consumer of its own per call, and a fixed 0.3 s settle after the first event.
    @_spi(Benchmark)
    public func enqueueAndWaitWithOwnConsumer(_ command: CommandEnvelope, timeoutSeconds: Double = 30) async throws -> [Event] {
        let statusTopic = "\(topicPrefix).status"
        var options = ConsumerOptions(groupId: "agentcore-wait-\(UUID().uuidString)")
        options.autoOffsetReset = .latest
        let consumer = try KafkaConsumer(config: config, options: options, logger: logger)
        defer { consumer.close() }
        guard let n = try consumer.partitionCount(topic: statusTopic) else {
            throw KafkaError.invalidArgument("topic \(statusTopic) does not exist")
        }
        let tp = TopicPartition(statusTopic, Murmur2.partition(forKey: command.workspaceId, partitionCount: Int32(n)))
        let end = try consumer.watermarks(tp).high
        try consumer.assign([TopicPartitionOffset(tp, offset: end)])
        try await producer.enqueue(command)
        let found: [Event] = await withCheckedContinuation { (c: CheckedContinuation<[Event], Never>) in
            let thread = Thread {
                let deadline = Date().addingTimeInterval(timeoutSeconds)
                var found: [Event] = []
                var settleUntil: Date?
                while Date() < (settleUntil ?? deadline) {
                    for r in consumer.poll(maxRecords: 500, timeoutMs: 100).records {
                        guard let v = r.value, let e = try? Event(bytes: v), e.commandId == command.id else { continue }
                        if !found.contains(where: { $0.id == e.id }) { found.append(e) }
                        if settleUntil == nil { settleUntil = Date().addingTimeInterval(0.3) }
                    }
                }
                c.resume(returning: found)
            }
            thread.start()
        }
        if found.isEmpty { throw Timeout(commandId: command.id, seconds: timeoutSeconds) }
        return found
    }
}
