import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging

/// Producer plus result correlation: `enqueueAndWait` sends a command and returns the
/// events it caused (matched by command id on the status topic), or times out.
public final class AgentCoreClient: @unchecked Sendable {
    public let producer: AgentCoreProducer
    let config: KafkaConfig
    let topicPrefix: String
    let logger: Logger

    public init(config: KafkaConfig, topicPrefix: String = "agentcore", logger: Logger = Logger(label: "agentcore.client")) throws {
        self.config = config
        self.topicPrefix = topicPrefix
        self.logger = logger
        producer = try AgentCoreProducer(config: config, topicPrefix: topicPrefix, logger: logger)
    }

    /// Why `enqueueAndWait` gave up.
    public struct Timeout: Error, CustomStringConvertible {
        public var commandId: String
        public var seconds: Double
        public var description: String { "no result for command \(commandId) within \(seconds) s" }
    }

    /// Sends `command` and waits for its result events (all events carrying its id that
    /// arrive within a short settle time after the first). Blocking: runs its consumer on
    /// the calling thread.
    public func enqueueAndWait(_ command: CommandEnvelope, timeoutSeconds: Double = 30) async throws -> [Event] {
        let stream = try EventStream(
            config: config, topics: ["\(topicPrefix).status"], fromBeginning: false,
            consumerOptions: { o in
                o.sessionTimeoutMs = 6_000
                o.heartbeatIntervalMs = 500
            }, logger: logger)
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        // Join the group (and fix the start position at the end) before sending.
        while !stream.isAssigned && Date() < deadline { _ = stream.poll(timeoutMs: 100) }
        _ = stream.poll(timeoutMs: 200)
        try await producer.enqueue(command)
        var found: [Event] = []
        var settleUntil: Date?
        while Date() < (settleUntil ?? deadline) {
            for r in stream.poll(timeoutMs: 100) where r.event.commandId == command.id {
                found.append(r.event)
                if settleUntil == nil { settleUntil = Date().addingTimeInterval(0.3) }
            }
        }
        if found.isEmpty { throw Timeout(commandId: command.id, seconds: timeoutSeconds) }
        return found
    }
}
