import AgentCoreKafka
import AgentCoreModel
import Logging
import Synchronization

/// Enqueues commands: the record key is the workspace id, the topic follows the command
/// type, the partition is murmur2(key) (the Java client's, so every producer agrees), and
/// the producer is idempotent. Definition commands go to every partition, so every store
/// holds the whole registry: the key's own partition plainly, the others with the
/// `agentcore-replica` header.
public final class AgentCoreProducer: Sendable {
    public let producer: KafkaProducer
    public let topicPrefix: String
    private let partitionCount: Mutex<Int32?> = Mutex(nil)

    public init(config: KafkaConfig, topicPrefix: String = "agentcore", logger: Logger = .library("agentcore.client")) throws {
        producer = try KafkaProducer(config: config, logger: logger)
        self.topicPrefix = topicPrefix
    }

    deinit { producer.close() }

    public func topic(for type: CommandType) -> String { "\(topicPrefix).\(type.stream.rawValue)" }

    func partitions() throws -> Int32 {
        if let n = partitionCount.withLock({ $0 }) { return n }
        guard let n = try producer.partitionCount(topic: "\(topicPrefix).commands") else {
            throw KafkaError.invalidArgument("topic \(topicPrefix).commands does not exist: run `agentcore topics create`")
        }
        partitionCount.withLock { $0 = Int32(n) }
        return Int32(n)
    }

    /// Enqueues one command and waits until Kafka has it. Returns where it landed (for a
    /// definition command, the key's own partition).
    @discardableResult
    public func enqueue(_ command: CommandEnvelope) async throws -> DeliveryReport {
        let records = try plan(command)
        var home: DeliveryReport?
        for r in records {
            let report = try await producer.send(
                topic: r.topic,
                partition: r.partition,
                key: Array(command.workspaceId.utf8),
                value: command.bytes,
                headers: r.headers
            )
            if r.headers.isEmpty { home = report }
        }
        return home!
    }

    /// Enqueues without waiting; `onDelivery` is called once per Kafka record (more than
    /// one for definition commands).
    public func enqueue(
        _ command: CommandEnvelope,
        onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) throws {
        for r in try plan(command) {
            try producer.produce(
                topic: r.topic,
                partition: r.partition,
                key: Array(command.workspaceId.utf8),
                value: command.bytes,
                headers: r.headers,
                onDelivery: onDelivery
            )
        }
    }

    struct Planned {
        var topic: String
        var partition: Int32
        var headers: [KafkaHeader]
    }

    func plan(_ command: CommandEnvelope) throws -> [Planned] {
        let type = CommandType(rawValue: command.type)
        let topic = type.map(topic(for:)) ?? "\(topicPrefix).commands"
        let n = try partitions()
        let home = Murmur2.partition(forKey: command.workspaceId, partitionCount: n)
        var out = [Planned(topic: topic, partition: home, headers: [])]
        if type?.isDefinitionCommand == true {
            for p in 0..<n where p != home {
                out.append(Planned(topic: topic, partition: p, headers: [KafkaHeader("agentcore-replica", Array("1".utf8))]))
            }
        }
        return out
    }

    public func flush(timeoutMs: Int32 = 30_000) throws { try producer.flush(timeoutMs: timeoutMs) }

    /// Flushes up to `timeoutMs` and closes the producer (also done on deinit); call it
    /// before the cluster it talks to goes away. Idempotent.
    public func close(timeoutMs: Int32 = 10_000) { producer.close(timeoutMs: timeoutMs) }
}
