import Foundation
import Synchronization
import Testing

@testable import AgentCoreKafka

/// Options that let the mock cluster rebalance multi-member groups quickly.

func fastGroup(_ group: String) -> ConsumerOptions {
    var o = ConsumerOptions(groupId: group)
    o.sessionTimeout = .seconds(6)
    o.heartbeatInterval = .milliseconds(500)
    o.maxPollInterval = .seconds(10)
    return o
}

func mockConfig(_ cluster: EmbeddedCluster) -> KafkaConfig {
    var c = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
    c.properties["fetch.wait.max.ms"] = "10"
    return c
}

func uniqueName(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8))" }

/// Polls on the calling thread until `done` says so or `seconds` pass.
@discardableResult
func pollUntil(
    _ consumer: KafkaConsumer,
    seconds: Double = 30,
    _ done: ([KafkaRecord]) -> Bool
) -> [KafkaRecord] {
    var all: [KafkaRecord] = []
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let batch = consumer.poll(maxRecords: 500, timeoutMs: 100)
        all += batch.records
        if done(all) { break }
    }
    return all
}

/// Produces and waits for every delivery; returns the reports in send order.
func produceAll(
    _ producer: KafkaProducer,
    topic: String,
    _ records: [(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader])],
    partition: Int32? = nil
) throws -> [Result<DeliveryReport, KafkaError>] {
    let results = Locked<[Int: Result<DeliveryReport, KafkaError>]>([:])
    for (i, r) in records.enumerated() {
        try producer.produce(topic: topic, partition: partition, key: r.key, value: r.value, headers: r.headers) { res in
            results.withLock { $0[i] = res }
        }
    }
    try producer.flush(timeoutMs: 30_000)
    return results.withLock { d in (0..<records.count).map { d[$0]! } }
}

/// A consumer polled on its own thread until stopped, collecting records and rebalance
/// events in one ordered log.
final class BackgroundMember: @unchecked Sendable {
    enum Entry: Equatable {
        case assigned([TopicPartition])
        case revoked([TopicPartition])
        case record(TopicPartition, Int64)
    }

    let log = Locked<[Entry]>([])
    private(set) var consumer: KafkaConsumer!
    private let stopFlag = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    init(config: KafkaConfig, options: ConsumerOptions, topics: [String]) throws {
        let log = self.log
        consumer = try KafkaConsumer(
            config: config,
            options: options,
            onAssign: { tps in
                log.withLock { $0.append(.assigned(tps)) }
                return []
            },
            onRevoke: { tps, _ in log.withLock { $0.append(.revoked(tps)) } }
        )
        try consumer.subscribe(topics)
        let thread = Thread { [self] in
            while !self.stopFlag.get {
                let batch = self.consumer.poll(maxRecords: 200, timeoutMs: 50)
                self.log.withLock { l in
                    for r in batch.records { l.append(.record(r.topicPartition, r.offset)) }
                }
            }
            self.consumer.close()
            self.finished.signal()
        }
        thread.start()
    }

    /// Stops polling and leaves the group (the revoke handler runs first).
    func stop() {
        stopFlag.withLock { $0 = true }
        finished.wait()
    }

    var assignment: Set<TopicPartition> {
        var current: Set<TopicPartition> = []
        for e in log.withLock({ $0 }) {
            switch e {
            case .assigned(let t): current.formUnion(t)
            case .revoked(let t): current.subtract(t)
            case .record: break
            }
        }
        return current
    }

    var records: [(TopicPartition, Int64)] {
        log.withLock { $0 }.compactMap { if case .record(let tp, let o) = $0 { return (tp, o) } else { return nil } }
    }
}

func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return condition()
}
