import CAgentCoreShims
import CRdKafka
import Logging

/// librdkafka's mock cluster: N brokers speaking the Kafka protocol on loopback, for tests,
/// `agentcore dev` and `agentcore broker`. Not a real broker: see docs/operations.md for
/// what it lacks (transaction isolation, compaction, retention beyond ~5 MiB/partition).
///
/// `@unchecked Sendable`: wraps C handles whose mock API is thread safe (it posts to the
/// mock cluster's own thread).
public final class EmbeddedCluster: @unchecked Sendable {
    private let client: KafkaClient
    private let cluster: OpaquePointer
    public let brokerCount: Int
    /// `host:port,...` of the brokers.
    public let bootstrapServers: String

    /// - Parameter firstPort: listen on `firstPort`, `firstPort + 1`, ... (one per broker)
    ///   instead of ephemeral ports, so other processes can find the cluster.
    public init(brokers: Int = 1, firstPort: Int? = nil, logger: Logger = .library("agentcore.embedded")) throws(KafkaError) {
        // The process hosting the mock must carry the TCP_NODELAY accept() override.
        _ = agentcore_shims_linked()
        let conf = try KafkaConfig(bootstrapServers: "").makeConf(overrides: [("bootstrap.servers", ""), ("log_level", "3")])
        client = try KafkaClient(type: RD_KAFKA_PRODUCER, conf: conf, context: KafkaClientContext(logger: logger))
        if let firstPort { agentcore_fixed_ports_begin(Int32(firstPort)) }
        let created = rd_kafka_mock_cluster_new(client.handle, Int32(brokers))
        if firstPort != nil { agentcore_fixed_ports_end() }
        guard let mc = created else {
            let where_ = firstPort.map { " on ports \($0)-\($0 + brokers - 1) (in use?)" } ?? ""
            throw .invalidArgument("cannot start the embedded Kafka cluster\(where_)")
        }
        cluster = mc
        brokerCount = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        client.destroy()
    }

    /// Creates a topic (the mock ignores topic configs such as compaction).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try KafkaError.check(
            rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(min(replicationFactor, brokerCount))),
            "create topic \(name)"
        )
    }

    /// Takes a broker down (closes its connections, refuses new ones) or brings it back.
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        try KafkaError.check(
            up ? rd_kafka_mock_broker_set_up(cluster, id) : rd_kafka_mock_broker_set_down(cluster, id),
            "set broker \(id) \(up ? "up" : "down")"
        )
    }

    /// Adds round-trip time to a broker's responses.
    public func setRoundTripTime(broker: Int32, milliseconds: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_broker_set_rtt(cluster, broker, milliseconds), "set rtt")
    }

    /// Makes the next `errors.count` requests of the Kafka API `apiKey` (e.g. 0 = Produce,
    /// 1 = Fetch, 8 = OffsetCommit) fail with the given error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        var errs = errors.map { rd_kafka_resp_err_t($0) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, errs.count, &errs)
    }

    /// Makes `broker` the coordinator of a group (`keyType` "group") or transactional id
    /// ("transaction").
    public func setCoordinator(keyType: String = "group", key: String, broker: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_coordinator_set(cluster, keyType, key, broker), "set coordinator")
    }

    /// Moves a partition's leadership to `broker`.
    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try KafkaError.check(rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker), "set leader")
    }
}
