import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import CoreMetrics
import Foundation
import Logging
import Testing

@testable import AgentCoreWorker

/// What a publishing round acknowledges when it is awaited late (a flush that timed out
/// is awaited in a later round, after rebalances may have replaced the partition's store).
@Suite struct PublishRoundTests {
    /// Three heartbeats for an instance that does not exist: three results rows (rejections).
    static func records(from offset: Int64) -> [InputRecord] {
        (0..<3).map { i in
            let env = CommandEnvelope(
                id: "hb-\(offset + Int64(i))",
                type: "instance.heartbeat",
                workspaceId: "w",
                projectId: "p",
                actor: "a",
                payload: ["instance_id": "none"]
            )
            return InputRecord(
                stream: .commands,
                topic: "t.commands",
                partition: 0,
                offset: offset + Int64(i),
                timestampMillis: 1_767_225_600_000 + offset + Int64(i),
                key: Array("w".utf8),
                value: env.bytes
            )
        }
    }

    /// A round acknowledges results only in the store it read them from, under the epoch
    /// the lane had then: a store set aside and rebuilt (or restored anew) numbers its
    /// results from the start again, and a late acknowledgement would mark rows published
    /// that no round sent.
    @Test func aLateRoundAcknowledgesResultsOnlyInTheStoreItReadThemFrom() throws {
        let cluster = try EmbeddedCluster(brokers: 1)
        var c = WorkerConfiguration()
        c.applyEmbeddedDefaults()
        let dir = NSTemporaryDirectory() + "round-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/partition-0.sqlite"
        let engine = WorkerEngine(config: c, bootstrap: cluster.bootstrapServers, logger: Logger(label: "t"), metrics: NOOPMetricsHandler.instance)
        let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(config: kafka)
        defer { producer.close(timeoutMs: 1_000) }
        let consumer = try KafkaConsumer(config: kafka, options: ConsumerOptions(groupId: "round-\(UUID().uuidString)"))
        defer { consumer.close() }

        let lane = PartitionLane(partition: 0, store: try PartitionStore(path: path, partition: 0), lifecycle: PartitionLifecycle(baseRetryMs: 1_000))
        defer { lane.store.close() }
        engine.lanes[0] = lane
        func round(_ lane: PartitionLane) throws -> WorkerEngine.PublishRound {
            let rows = try lane.store.unpublishedRows(limit: 100)
            return WorkerEngine.PublishRound(
                results: [0: WorkerEngine.PublishRound.ResultsSent(through: rows.last!.seq, from: lane)],
                count: rows.count,
                recent: [],
                producer: producer
            )
        }

        try lane.store.apply(Self.records(from: 0))
        let late = try round(lane)
        #expect(late.results[0]?.through == 3)
        // The store is set aside and rebuilt at the same path (new numbering), and applies
        // records of its own before the late round is awaited.
        lane.store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        lane.store = try PartitionStore(path: path, partition: 0)
        try lane.store.apply(Self.records(from: 0) + Self.records(from: 3))
        engine.acknowledge(late, consumer: consumer)
        #expect(lane.store.publishedThrough == 0, "a round read from another store acknowledges nothing here")
        #expect(try lane.store.unpublishedRows(limit: 100).count == 6)

        // A round read under an older epoch of the same store acknowledges nothing either.
        let older = try round(lane)
        lane.epoch += 1
        engine.acknowledge(older, consumer: consumer)
        #expect(lane.store.publishedThrough == 0)

        // The round the current store and epoch read is acknowledged.
        engine.acknowledge(try round(lane), consumer: consumer)
        #expect(lane.store.publishedThrough == 6)
        #expect(try lane.store.unpublishedRows(limit: 100).isEmpty)
    }
}
