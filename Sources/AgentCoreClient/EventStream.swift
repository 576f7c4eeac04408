import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging

/// An event as received, with where it came from for the consumer's own checkpointing.
public struct ReceivedEvent: Sendable {
    public var event: Event
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A downstream consumer of agentcore's status (and heartbeat) topics: decodes events and
/// drops duplicates by event id (a bounded memory of recent ids). Records that are not
/// events (worker heartbeats, foreign data) are skipped and counted.
///
/// Blocking: call `poll` from a dedicated thread or use `events()`.
public final class EventStream: @unchecked Sendable {
    let consumer: KafkaConsumer
    private var seen = Set<String>()
    /// Ring of the ids in `seen`, oldest at `ringHead` once full.
    private var ring: [String] = []
    private var ringHead = 0
    private let dedupeWindow: Int
    public private(set) var duplicatesDropped = 0
    public private(set) var undecodable = 0

    /// - Parameters:
    ///   - groupId: the consumer group (nil: a private group that starts at `start`).
    ///   - fromBeginning: where a group without committed offsets starts.
    public init(
        config: KafkaConfig, topics: [String], groupId: String? = nil, fromBeginning: Bool = true,
        dedupeWindow: Int = 100_000, consumerOptions: ((inout ConsumerOptions) -> Void)? = nil,
        logger: Logger = .library("agentcore.client.events")
    ) throws {
        var o = ConsumerOptions(groupId: groupId ?? "agentcore-events-\(UUID().uuidString)")
        o.autoOffsetReset = fromBeginning ? "earliest" : "latest"
        consumerOptions?(&o)
        consumer = try KafkaConsumer(config: config, options: o, logger: logger)
        self.dedupeWindow = max(1, dedupeWindow)
        try consumer.subscribe(topics)
    }

    deinit { consumer.close() }

    /// Waits up to `timeoutMs` for events; returns new (not duplicate) events in order.
    public func poll(maxRecords: Int = 500, timeoutMs: Int32 = 100) -> [ReceivedEvent] {
        var out: [ReceivedEvent] = []
        for r in consumer.poll(maxRecords: maxRecords, timeoutMs: timeoutMs).records {
            guard let value = r.value, let event = try? Event(bytes: value) else {
                undecodable += 1
                continue
            }
            if seen.contains(event.id) {
                duplicatesDropped += 1
                continue
            }
            seen.insert(event.id)
            if ring.count < dedupeWindow {
                ring.append(event.id)
            } else {
                seen.remove(ring[ringHead])
                ring[ringHead] = event.id
                ringHead = (ringHead + 1) % dedupeWindow
            }
            out.append(ReceivedEvent(event: event, topic: r.topic, partition: r.partition, offset: r.offset))
        }
        return out
    }

    /// Commits `event`'s position + 1 to the group (for a named group's checkpointing).
    public func commit(_ events: [ReceivedEvent]) throws {
        var last: [TopicPartition: Int64] = [:]
        for e in events { last[TopicPartition(e.topic, e.partition)] = max(last[TopicPartition(e.topic, e.partition)] ?? -1, e.offset) }
        try consumer.commit(last.map { TopicPartitionOffset($0.key, offset: $0.value + 1) })
    }

    /// Whether the consumer holds partitions yet (after the group join).
    public var isAssigned: Bool { ((try? consumer.assignment()) ?? []).isEmpty == false }
}
