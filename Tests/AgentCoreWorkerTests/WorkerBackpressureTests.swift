import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Prometheus
import Testing

@testable import AgentCoreWorker

@Suite(.serialized) struct WorkerBackpressureTests {
    /// Output topics lead on broker 2; with broker 2 down the worker cannot publish, its
    /// outbox passes the limit and it pauses consumption; with broker 2 back every event is
    /// published once per id and consumption resumes.
    @Test func pausesWhilePublishingIsBlockedAndCatchesUp() async throws {
        let cluster = try EmbeddedCluster(brokers: 2)
        let topics = TopicNames(prefix: "bp\(UUID().uuidString.prefix(6).lowercased())")
        try TopicSetup.create(on: cluster, topics: topics, partitions: 2)
        for t in topics.inputs { for p in Int32(0)..<2 { try cluster.setLeader(topic: t, partition: p, broker: 1) } }
        for t in topics.outputs { for p in Int32(0)..<2 { try cluster.setLeader(topic: t, partition: p, broker: 2) } }
        var c = WorkerConfiguration()
        c.applyEmbeddedDefaults()
        c.workerId = "bp"
        c.groupId = "\(topics.prefix)-g"
        try cluster.setCoordinator(key: c.groupId, broker: 1)
        c.topics = topics
        c.dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bp-\(UUID().uuidString)").path
        c.maxOutboxDepth = 5
        c.publishTimeoutMs = 500
        c.heartbeatIntervalMs = 60_000
        var logger = Logger(label: "bp")
        logger.logLevel = .error
        let worker = Worker(configuration: c, bootstrap: cluster.bootstrapServers, logger: logger)
        let loop = Task { try await worker.runLoop() }
        var kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        kafka.properties["linger.ms"] = "2"
        let producer = try AgentCoreProducer(config: kafka, topicPrefix: topics.prefix)
        let ws = Commands(workspace: "w", project: "p", actor: "a")
        try await producer.enqueue(ws.registerDefinition(slug: "d", name: "D", agentType: "t"))
        #expect(await eventually(seconds: 30) { worker.status.published >= 1 })

        try cluster.setBroker(2, up: false)
        for i in 0..<40 { try await producer.enqueue(ws.heartbeat(instanceId: "none", id: "hb-\(i)")) }
        #expect(await eventually(seconds: 30) { worker.status.paused }, "consumption pauses when the outbox passes 5")
        let appliedWhenPaused = worker.status.applied + worker.status.rejected
        for i in 40..<80 { try await producer.enqueue(ws.heartbeat(instanceId: "none", id: "hb-\(i)")) }
        try await Task.sleep(for: .seconds(2))
        #expect(worker.status.applied + worker.status.rejected == appliedWhenPaused, "nothing applied while paused")
        #expect(worker.status.paused)

        try cluster.setBroker(2, up: true)
        #expect(await eventually(seconds: 60) { worker.status.rejected >= 80 && !worker.status.paused })
        worker.stop()
        try await loop.value
        producer.close()

        var o = ConsumerOptions(groupId: "read-\(UUID().uuidString)")
        o.sessionTimeout = .seconds(6)
        o.heartbeatInterval = .milliseconds(500)
        let reader = try KafkaConsumer(config: kafka, options: o)
        defer { reader.close() }
        try reader.subscribe([topics.status])
        var ids: [String] = []
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && Set(ids).count < 81 {
            ids += reader.poll(maxRecords: 500, timeoutMs: 100).records.compactMap { try? Event(bytes: $0.value ?? []).id }
        }
        #expect(Set(ids).count == 81, "every result published")
        // In-flight records were awaited, not queued again: each id once.
        #expect(ids.count == Set(ids).count)
    }

    /// librdkafka 2.0.2 parks a partition's fetch while the prefetch queue is over
    /// `queued.max.messages.kbytes` and looks again only when its broker thread next wakes
    /// (up to a second later). A worker draining a backlog through a tiny prefetch restarts
    /// those fetches itself (`wakeStalledFetch`): every command is answered, and the
    /// restarts are counted. Without them the drain still ends, a second per queue-full
    /// later, and the counter stays absent.
    @Test func aBacklogThroughATinyPrefetchIsFetchedAgain() async throws {
        let h = try WorkerHarness(partitions: 2)
        let producer = try AgentCoreProducer(config: h.kafka, topicPrefix: h.topics.prefix)
        let ws = Commands(workspace: "w", project: "p", actor: "a")
        let n = 1_500
        for i in 0..<n { try await producer.enqueue(ws.heartbeat(instanceId: "none", id: "hb-\(i)")) }
        producer.close()
        let registry = PrometheusCollectorRegistry()
        let w = h.startWorker("w1", metrics: PrometheusMetricsFactory(registry: registry)) { c in
            c.consumerPrefetchKiB = 8
            c.batchSize = 10
        }
        #expect(await eventually(seconds: 240) { w.status.rejected >= n })
        let text = registry.emitToString()
        let line = text.split(separator: "\n").first { $0.hasPrefix("agentcore_input_refetches_total ") }
        let count = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        #expect(count > 0, "fetches restarted: \(line ?? "none")")
        try await h.stopAll()
    }
}
