/// Environment variables agentcore reads; `deploy/` and `scripts/check_deploy.py` are checked against this list.
public enum EnvironmentKeys {
    public static let brokers = "AGENTCORE_BROKERS"
    public static let group = "AGENTCORE_GROUP"
    public static let workerID = "AGENTCORE_WORKER_ID"
    public static let dataDir = "AGENTCORE_DATA_DIR"
    public static let topicPrefix = "AGENTCORE_TOPIC_PREFIX"
    public static let partitions = "AGENTCORE_PARTITIONS"
    public static let replicationFactor = "AGENTCORE_REPLICATION_FACTOR"
    public static let historyLimit = "AGENTCORE_HISTORY_LIMIT"
    public static let maxConcurrency = "AGENTCORE_MAX_CONCURRENCY"
    public static let heartbeatIntervalMs = "AGENTCORE_HEARTBEAT_INTERVAL_MS"
    public static let instanceTimeoutMs = "AGENTCORE_INSTANCE_TIMEOUT_MS"
    public static let batchSize = "AGENTCORE_BATCH_SIZE"
    public static let shutdownTimeoutMs = "AGENTCORE_SHUTDOWN_TIMEOUT_MS"
    public static let httpAddr = "AGENTCORE_HTTP_ADDR"
    public static let httpToken = "AGENTCORE_HTTP_TOKEN"
    public static let httpAdvertise = "AGENTCORE_HTTP_ADVERTISE"
    public static let storeCacheMiB = "AGENTCORE_STORE_CACHE_MIB"
    public static let storeMmapMiB = "AGENTCORE_STORE_MMAP_MIB"
    public static let standbys = "AGENTCORE_STANDBYS"
    public static let changelogIntervalMs = "AGENTCORE_CHANGELOG_INTERVAL_MS"
    public static let sessionTimeoutMs = "AGENTCORE_SESSION_TIMEOUT_MS"
    public static let groupHeartbeatMs = "AGENTCORE_GROUP_HEARTBEAT_MS"
    public static let localStoreMaxAgeHours = "AGENTCORE_LOCAL_STORE_MAX_AGE_HOURS"
    public static let logLevel = "AGENTCORE_LOG_LEVEL"
    /// 1: start partitions whose input went backwards over on the new topic (see
    /// `WorkerConfiguration.acceptRewoundInput`).
    public static let acceptRewoundInput = "AGENTCORE_ACCEPT_REWOUND_INPUT"
    /// Prefix of librdkafka pass-through properties: `AGENTCORE_KAFKA_SECURITY_PROTOCOL` sets `security.protocol`.
    public static let kafkaPrefix = "AGENTCORE_KAFKA_"
    public static let all: [String] = [
        brokers, group, workerID, dataDir, topicPrefix, partitions, replicationFactor,
        historyLimit, maxConcurrency, heartbeatIntervalMs, instanceTimeoutMs, batchSize,
        shutdownTimeoutMs, logLevel, acceptRewoundInput,
    ]
}
