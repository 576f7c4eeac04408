import CRdKafka
import Logging

/// A topic to create.
public struct TopicSpec: Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic configs, e.g. `cleanup.policy=compact`, `retention.ms`.
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Topic administration over the Admin API (real Kafka). The embedded cluster creates
/// topics through its own API instead, since the mock's CreateTopics times out.
public final class KafkaAdmin: Sendable {
    let client: KafkaClient

    public init(config: KafkaConfig, logger: Logger = .library("agentcore.kafka.admin")) throws(KafkaError) {
        client = try KafkaClient(type: RD_KAFKA_PRODUCER, conf: try config.makeConf(), context: KafkaClientContext(logger: logger))
    }

    deinit { client.destroy() }

    /// Creates topics; one that exists already is not an error. Returns the names created.
    @discardableResult
    public func createTopics(_ specs: [TopicSpec], timeoutMs: Int32 = 30_000) throws(KafkaError) -> [String] {
        var buf = [CChar](repeating: 0, count: 512)
        var topics: [OpaquePointer?] = []
        defer { for t in topics { rd_kafka_NewTopic_destroy(t) } }
        for s in specs {
            guard let t = rd_kafka_NewTopic_new(s.name, Int32(s.partitions), Int32(s.replicationFactor), &buf, buf.count) else {
                throw .invalidArgument("topic \(s.name): \(cString(buf))")
            }
            topics.append(t)
            for k in s.configs.keys.sorted() {
                try KafkaError.check(rd_kafka_NewTopic_set_config(t, k, s.configs[k]!), "topic \(s.name) config \(k)")
            }
        }
        let queue = rd_kafka_queue_new(client.handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(client.handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &buf, buf.count)
        rd_kafka_CreateTopics(client.handle, &topics, topics.count, options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 5_000) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "create topics")
        }
        defer { rd_kafka_event_destroy(event) }
        try KafkaError.check(rd_kafka_event_error(event), "create topics")
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return [] }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return [] }
        var created: [String] = []
        for i in 0..<count {
            let r = results[i]
            let name = String(cString: rd_kafka_topic_result_name(r))
            let err = rd_kafka_topic_result_error(r)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                created.append(name)
            } else if err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                let text = rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? ""
                throw KafkaError(code: err.rawValue, message: "create topic \(name): \(text)")
            }
        }
        return created
    }

    /// Partition count of a topic, nil when it does not exist.
    public func partitionCount(topic: String, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Int? {
        try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
    }
}
