import AgentCoreKafka
import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreWorker

@Suite struct WorkerConfigurationTests {
    @Test func environmentOverDefaults() throws {
        let c = try WorkerConfiguration.fromEnvironment([
            "AGENTCORE_BROKERS": "k1:9092,k2:9092", "AGENTCORE_GROUP": "g", "AGENTCORE_TOPIC_PREFIX": "acme",
            "AGENTCORE_HISTORY_LIMIT": "7", "AGENTCORE_MAX_CONCURRENCY": "3", "AGENTCORE_INSTANCE_TIMEOUT_MS": "1000",
            "AGENTCORE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "AGENTCORE_KAFKA_SASL_MECHANISM": "PLAIN",
        ])
        #expect(c.brokers == "k1:9092,k2:9092")
        #expect(c.groupId == "g")
        #expect(c.topics.commands == "acme.commands")
        #expect(c.topics.contextWrites == "acme.context-writes")
        #expect(c.store.historyLimit == 7)
        #expect(c.store.maxConcurrency == 3)
        #expect(c.store.instanceTimeoutMillis == 1000)
        #expect(c.kafkaProperties == ["security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN"])
        #expect(throws: WorkerConfiguration.Invalid.self) { try WorkerConfiguration.fromEnvironment(["AGENTCORE_BATCH_SIZE": "many"]) }
        #expect(throws: WorkerConfiguration.Invalid.self) { try WorkerConfiguration.fromEnvironment(["AGENTCORE_HISTORY_LIMIT": "0"]) }
    }

    /// Group timings from the environment survive the embedded cluster's defaults; the
    /// heartbeat must leave room in the session.
    @Test func groupTimings() throws {
        var c = try WorkerConfiguration.fromEnvironment(["AGENTCORE_SESSION_TIMEOUT_MS": "3000", "AGENTCORE_GROUP_HEARTBEAT_MS": "300"])
        c.applyEmbeddedDefaults()
        #expect(c.sessionTimeoutMs == 3_000 && c.heartbeatGroupIntervalMs == 300)
        #expect(c.producerDeliveryTimeoutMs == 2_400)
        var d = WorkerConfiguration()
        d.applyEmbeddedDefaults()
        #expect(d.sessionTimeoutMs == 6_000 && d.heartbeatGroupIntervalMs == 500)
        #expect(throws: WorkerConfiguration.Invalid.self) {
            try WorkerConfiguration.fromEnvironment(["AGENTCORE_SESSION_TIMEOUT_MS": "3000", "AGENTCORE_GROUP_HEARTBEAT_MS": "1500"])
        }
    }

    @Test func localStoreAgeLimit() throws {
        #expect(WorkerConfiguration().localStoreMaxAgeMillis == Int64(43_200_000))
        #expect(try WorkerConfiguration.fromEnvironment(["AGENTCORE_LOCAL_STORE_MAX_AGE_HOURS": "2"]).localStoreMaxAgeMillis == 7_200_000)
        #expect(try WorkerConfiguration.fromEnvironment(["AGENTCORE_LOCAL_STORE_MAX_AGE_HOURS": "0"]).localStoreMaxAgeMillis == nil)
        #expect(throws: WorkerConfiguration.Invalid.self) {
            try WorkerConfiguration.fromEnvironment(["AGENTCORE_LOCAL_STORE_MAX_AGE_HOURS": "-1"])
        }
    }
}

@Suite(.serialized) struct WorkerStartupTests {
    @Test func inputTopicsWithDifferentPartitionCountsStopStartup() async throws {
        let cluster = try EmbeddedCluster()
        let topics = TopicNames(prefix: "mm\(UUID().uuidString.prefix(6).lowercased())")
        try cluster.createTopic(topics.commands, partitions: 4)
        try cluster.createTopic(topics.contextWrites, partitions: 3)
        var c = WorkerConfiguration()
        c.applyEmbeddedDefaults()
        c.topics = topics
        c.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString).path
        let w = Worker(configuration: c, bootstrap: cluster.bootstrapServers, logger: .init(label: "t"))
        await #expect { try await w.runLoop() } throws: { error in
            "\(error)".contains("co-partitioned")
        }
    }

    @Test func workerHeartbeatsDescribeOwnedPartitions() async throws {
        let h = try WorkerHarness(partitions: 3)
        h.startWorker("hb-worker")
        let records = try await h.readRaw(h.topics.heartbeats, seconds: 40) { recs in
            recs.contains { r in
                guard let v = try? JSONParser.parse(r.value ?? []) else { return false }
                return (v["partitions"]?.arrayValue?.count ?? 0) == 3
            }
        }
        try await h.stopAll()
        let beat = try #require(records.compactMap { try? JSONParser.parse($0.value ?? []) }.last { ($0["partitions"]?.arrayValue?.count ?? 0) == 3 })
        #expect(beat["schema"] == "agentcore.worker-heartbeat/v1")
        #expect(beat["worker_id"] == "hb-worker")
        #expect(beat["partitions"]?.arrayValue?.compactMap { $0["partition"]?.intValue }.sorted() == [0, 1, 2])
        #expect(beat["uptime_ms"]?.intValue ?? 0 > 0)
    }

    /// The worker fixes glibc's mmap threshold unless the operator set one.
    @Test func mmapThresholdIsFixedUnlessGlibcTunablesSetsOne() {
        #expect(!MemoryTuning.fixMmapThreshold(environment: ["GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"]))
        #expect(MemoryTuning.fixMmapThreshold(environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=4"]))
        #expect(MemoryTuning.fixMmapThreshold(environment: [:]))
    }
}
