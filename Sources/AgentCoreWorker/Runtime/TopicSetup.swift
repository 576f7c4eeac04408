import AgentCoreKafka
import Logging

/// Creates agentcore's topics: on the embedded cluster through its own API, on Kafka through
/// the Admin API. Existing topics are left as they are.
public enum TopicSetup {
    /// The topics with their configs for real Kafka.
    public static func specs(_ topics: TopicNames, partitions: Int, replicationFactor: Int) -> [TopicSpec] {
        let day = 86_400_000
        return [
            TopicSpec(
                name: topics.commands,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: ["retention.ms": String(7 * day)]
            ),
            TopicSpec(
                name: topics.contextWrites,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: ["retention.ms": String(7 * day)]
            ),
            TopicSpec(
                name: topics.status,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: ["retention.ms": String(7 * day)]
            ),
            TopicSpec(
                name: topics.heartbeats,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: ["retention.ms": String(day)]
            ),
            TopicSpec(
                name: topics.dlq,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: ["retention.ms": String(30 * day)]
            ),
            // The durable home of every store: compacted, never deleted by time. A record is
            // compacted no sooner than an hour after it was written, so a new owner has time
            // to publish its claim and first unit (docs/changelog.md, "Compaction").
            TopicSpec(
                name: topics.changelog,
                partitions: partitions,
                replicationFactor: replicationFactor,
                configs: [
                    "cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": String(3_600_000),
                    "delete.retention.ms": String(day),
                ]
            ),
        ]
    }

    public static func create(
        on cluster: EmbeddedCluster,
        topics: TopicNames,
        partitions: Int
    ) throws(KafkaError) {
        for s in specs(topics, partitions: partitions, replicationFactor: 1) {
            try cluster.createTopic(s.name, partitions: s.partitions, replicationFactor: s.replicationFactor)
        }
    }

    @discardableResult
    public static func create(
        brokers: KafkaConfig,
        topics: TopicNames,
        partitions: Int,
        replicationFactor: Int,
        logger: Logger
    ) throws(KafkaError) -> [String] {
        let admin = try KafkaAdmin(config: brokers, logger: logger)
        return try admin.createTopics(specs(topics, partitions: partitions, replicationFactor: replicationFactor))
    }
}
