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

    public init(config: KafkaConfig, topicPrefix: String = "agentcore", logger: Logger = .library("agentcore.client")) throws {
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
    /// arrive within a short settle time after the first). Results of a workspace are on
    /// one status partition (murmur2 of the workspace id), which is read from its current
    /// end, fixed before the command is sent. The blocking work runs on its own thread.
    public func enqueueAndWait(_ command: CommandEnvelope, timeoutSeconds: Double = 30) async throws -> [Event] {
        let statusTopic = "\(topicPrefix).status"
        var options = ConsumerOptions(groupId: "agentcore-wait-\(UUID().uuidString)")
        options.autoOffsetReset = "latest"
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
