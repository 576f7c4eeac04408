import AgentCoreKafka
import AgentCoreStore
import Foundation

/// Everything a worker needs, with production defaults. The CLI and the environment parse
/// into it (`WorkerConfiguration.fromEnvironment`); flags win over the environment.
public struct WorkerConfiguration: Sendable {
    /// Bootstrap servers; nil runs an in-process embedded cluster.
    public var brokers: String?
    public var groupId = "agentcore"
    /// Identifies the worker in heartbeats and as its static group membership id.
    public var workerId = ProcessInfo.processInfo.hostName
    public var dataDirectory = "./data"
    public var topics = TopicNames()
    /// Partitions to create the input topics with (when they do not exist).
    public var partitions = 12
    public var replicationFactor = 1
    public var store = StoreOptions()
    public var heartbeatIntervalMs = 5_000
    /// Most records taken from one poll. A step gathers up to this many per owned partition,
    /// and what a step produces waits in librdkafka until acknowledged: the largest part of
    /// a busy worker's memory after the fixed part (docs/operations.md, "Memory").
    public var batchSize = 500
    /// Graceful shutdown: finish the batch, publish, commit and leave within this bound.
    public var shutdownTimeoutMs = 30_000
    /// How long a record of one input stream may wait for the other stream of its
    /// partition before it is applied anyway (see docs/guarantees.md, "Order").
    public var mergeWaitMs = 200
    /// Consumption pauses while a partition has more unpublished results rows than this.
    public var maxOutboxDepth = 100_000
    /// How long one publishing round waits for the broker's acknowledgements before the
    /// loop goes on (the records stay in flight and are awaited in the next round).
    public var publishTimeoutMs = 5_000
    /// librdkafka properties passed through to every client.
    public var kafkaProperties: [String: String] = [:]
    /// Group timings; defaults suit real Kafka. `embeddedDefaults()` tightens them.
    public var sessionTimeoutMs = 45_000
    public var heartbeatGroupIntervalMs = 3_000
    /// The producer's `message.timeout.ms` unless set with `-X`: below the group session
    /// (session minus two group heartbeats), so that a record queued before the process
    /// stopped cannot land after another worker took its partition over. Also the stall
    /// after which the worker waits for the group before publishing again.
    public var producerDeliveryTimeoutMs: Int { max(1_000, sessionTimeoutMs - 2 * heartbeatGroupIntervalMs) }
    public var maxPollIntervalMs = 300_000
    /// Use `group.instance.id = workerId` (static membership).
    public var staticMembership = false
    /// Publish every store's changes to the changelog topic and restore stores from it on
    /// assignment (stateless workers). Off only to measure what it costs.
    public var changelog = true
    /// How long a partition whose restore failed waits before trying again.
    public var restoreRetryMs = 10_000
    /// Most often a partition publishes a changelog unit (its changed rows and a marker), ms;
    /// 0: every publishing round. Changes gather in the store meanwhile and a row changed
    /// several times is sent once. At low rates a round holds a few records, and a unit per
    /// round was mostly markers. What a takeover after a crash publishes again grows by up
    /// to this much of the partition's events.
    public var changelogIntervalMs = 100
    /// Changelog rows a restore applies per transaction (a restore cut short resumes after
    /// the last one).
    var restoreChunkRows = 5_000
    /// Tests: the first restore of each partition that applies this many rows waits there
    /// until it is cancelled (a rebalance), so that a test can cut a restore in the middle
    /// without racing it. 0: never.
    var restoreHoldAfterRows = 0
    /// Standby replicas: warm copies of `standbys` partitions per owned one, kept by
    /// following their changelog (0: none). See `StandbyFollower.placement`.
    public var standbys = 0
    /// How often a standby copy catches up with its changelog.
    public var standbyIntervalMs = 1_000
    /// A local store (left on this disk by an earlier owner run, or a standby copy) that was
    /// last in step with the changelog longer ago than this is rebuilt from the changelog
    /// instead of brought forward from its mark: compaction may have dropped deletions'
    /// tombstones since (`delete.retention.ms`, 1 day as `agentcore topics create` sets it;
    /// keep this below it). 0: no limit.
    public var localStoreMaxAgeHours = 12
    /// How often a worker that holds its data directory alone removes store copies past
    /// `localStoreMaxAgeHours` of partitions it neither owns nor follows (`StaleStores`);
    /// it also does at start-up.
    var staleStoreSweepMs: UInt64 = 600_000
    /// `localStoreMaxAgeHours` for `ChangelogRestore.maxLocalAgeMillis`.
    public var localStoreMaxAgeMillis: Int64? { localStoreMaxAgeHours > 0 ? Int64(localStoreMaxAgeHours) * 3_600_000 : nil }
    /// When a partition's input offsets fall below what its store applied (the topic was
    /// recreated, the cluster replaced), start the partition over on the new topic from
    /// there, keeping its state. Off (default): the partition stops until an operator
    /// restarts the worker with this on; no record is skipped silently.
    public var acceptRewoundInput = false
    /// SQLite page cache for all the worker's stores together, MiB: each owned partition's
    /// store gets an equal share (at least 1 MiB). The largest part of a worker's memory
    /// that grows with its data (docs/operations.md, "Memory").
    public var storeCacheBudgetMiB = 8
    /// Most KiB of fetched records librdkafka holds for the worker's consumer before the
    /// loop takes them (`queued.max.messages.kbytes`; librdkafka's default is 64 MiB). Small
    /// is enough: the engine restarts a fetch that librdkafka parked on a full queue
    /// (`WorkerEngine.wakeStalledFetch`).
    public var consumerPrefetchKiB = 4_096
    /// The worker's HTTP server as other workers and clients reach it (`http://host:port`),
    /// advertised in heartbeats so that reads are forwarded to a partition's owner; nil
    /// when the worker serves no HTTP.
    public var httpURL: String?

    /// The page cache each store gets when the worker owns `partitions` partitions.
    public func storeCacheKiB(owning partitions: Int) -> Int {
        max(1_024, storeCacheBudgetMiB * 1_024 / max(1, partitions))
    }

    public init() {}

    /// Settings that make librdkafka's mock cluster behave (see docs/operations.md). Group
    /// timings set away from the production defaults (`AGENTCORE_SESSION_TIMEOUT_MS`, say)
    /// are kept.
    public mutating func applyEmbeddedDefaults() {
        let production = WorkerConfiguration()
        if sessionTimeoutMs == production.sessionTimeoutMs { sessionTimeoutMs = 6_000 }
        if heartbeatGroupIntervalMs == production.heartbeatGroupIntervalMs { heartbeatGroupIntervalMs = 500 }
        if maxPollIntervalMs == production.maxPollIntervalMs { maxPollIntervalMs = 10_000 }
        if kafkaProperties["fetch.wait.max.ms"] == nil { kafkaProperties["fetch.wait.max.ms"] = "10" }
        if kafkaProperties["linger.ms"] == nil { kafkaProperties["linger.ms"] = "2" }
    }

    /// A configuration problem, reported at start-up in one line.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads `AGENTCORE_*` variables (see `EnvironmentKeys`) over the defaults.
    public static func fromEnvironment(
        _ env: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Invalid)
        -> WorkerConfiguration
    {
        var c = WorkerConfiguration()
        func int(_ key: String, _ apply: (Int) -> Void) throws(Invalid) {
            guard let v = env[key], !v.isEmpty else { return }
            guard let i = Int(v), i >= 0 else { throw Invalid(description: "\(key)=\(v) is not a non-negative integer") }
            apply(i)
        }
        if let v = env[EnvironmentKeys.brokers], !v.isEmpty { c.brokers = v }
        if let v = env[EnvironmentKeys.group], !v.isEmpty { c.groupId = v }
        if let v = env[EnvironmentKeys.workerID], !v.isEmpty { c.workerId = v }
        if let v = env[EnvironmentKeys.dataDir], !v.isEmpty { c.dataDirectory = v }
        if let v = env[EnvironmentKeys.topicPrefix], !v.isEmpty { c.topics = TopicNames(prefix: v) }
        try int(EnvironmentKeys.partitions) { c.partitions = $0 }
        try int(EnvironmentKeys.replicationFactor) { c.replicationFactor = $0 }
        try int(EnvironmentKeys.historyLimit) { c.store.historyLimit = $0 }
        try int(EnvironmentKeys.maxConcurrency) { c.store.maxConcurrency = $0 }
        try int(EnvironmentKeys.heartbeatIntervalMs) { c.heartbeatIntervalMs = $0 }
        try int(EnvironmentKeys.instanceTimeoutMs) { c.store.instanceTimeoutMillis = Int64($0) }
        try int(EnvironmentKeys.batchSize) { c.batchSize = $0 }
        try int(EnvironmentKeys.shutdownTimeoutMs) { c.shutdownTimeoutMs = $0 }
        try int(EnvironmentKeys.storeCacheMiB) { c.storeCacheBudgetMiB = $0 }
        try int(EnvironmentKeys.storeMmapMiB) { c.store.mmapSizeBytes = Int64($0) << 20 }
        try int(EnvironmentKeys.standbys) { c.standbys = $0 }
        try int(EnvironmentKeys.changelogIntervalMs) { c.changelogIntervalMs = $0 }
        try int(EnvironmentKeys.sessionTimeoutMs) { c.sessionTimeoutMs = $0 }
        try int(EnvironmentKeys.groupHeartbeatMs) { c.heartbeatGroupIntervalMs = $0 }
        try int(EnvironmentKeys.localStoreMaxAgeHours) { c.localStoreMaxAgeHours = $0 }
        if let v = env[EnvironmentKeys.acceptRewoundInput], !v.isEmpty {
            guard ["1", "true", "0", "false"].contains(v.lowercased()) else {
                throw Invalid(description: "\(EnvironmentKeys.acceptRewoundInput)=\(v) is not 1/true or 0/false")
            }
            c.acceptRewoundInput = v == "1" || v.lowercased() == "true"
        }
        for (k, v) in env where k.hasPrefix(EnvironmentKeys.kafkaPrefix) {
            let prop = k.dropFirst(EnvironmentKeys.kafkaPrefix.count).lowercased().replacingOccurrences(of: "_", with: ".")
            c.kafkaProperties[prop] = v
        }
        try c.validate()
        return c
    }

    public func validate() throws(Invalid) {
        if partitions < 1 { throw Invalid(description: "partitions must be at least 1") }
        if batchSize < 1 { throw Invalid(description: "batch size must be at least 1") }
        if store.historyLimit < 1 { throw Invalid(description: "history limit must be at least 1") }
        if heartbeatIntervalMs < 100 { throw Invalid(description: "heartbeat interval must be at least 100 ms") }
        if storeCacheBudgetMiB < 1 { throw Invalid(description: "store cache budget must be at least 1 MiB") }
        if store.mmapSizeBytes < 0 { throw Invalid(description: "store mmap size must be 0 (off) or more") }
        if standbys < 0 { throw Invalid(description: "standbys must be 0 or more") }
        if changelogIntervalMs < 0 { throw Invalid(description: "changelog interval must be 0 (every round) or more ms") }
        if sessionTimeoutMs < 1_000 { throw Invalid(description: "session timeout must be at least 1000 ms") }
        if heartbeatGroupIntervalMs < 1 || heartbeatGroupIntervalMs * 3 > sessionTimeoutMs {
            throw Invalid(description: "group heartbeat interval must be positive and at most a third of the session timeout")
        }
        if localStoreMaxAgeHours < 0 { throw Invalid(description: "local store max age must be 0 (no limit) or more hours") }
        if standbys > 0 && !changelog { throw Invalid(description: "standbys follow the changelog: they need it on") }
    }

    /// The Kafka client configuration for this worker.
    public func kafkaConfig(bootstrap: String) -> KafkaConfig {
        var k = KafkaConfig(bootstrapServers: bootstrap)
        k.clientId = "agentcore-\(workerId)"
        k.properties = kafkaProperties
        // Changelog units and result events are batches of similar JSON and row images:
        // LZ4 shrinks them several times for little CPU.
        if k.properties["compression.type"] == nil && k.properties["compression.codec"] == nil {
            k.properties["compression.type"] = "lz4"
        }
        return k
    }
}
