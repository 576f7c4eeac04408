import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Synchronization

/// What the host hears about one of its instances on the status topic.
enum HostEvent: Sendable {
    case message(AgentMessage)
    case statusChanged(from: InstanceStatus?, to: InstanceStatus, reason: String?, commandId: String?)
    case configured(config: JSONValue, commandId: String?)
    case removed(commandId: String?)
    /// Not from Kafka: the host is stopping.
    case stop
}

/// One routed event and where it was read: `done(_:)` it once handled, so the host's
/// committed offset never passes an event that was not.
struct Delivery: Sendable {
    var event: HostEvent
    var partition: Int32
    var offset: Int64
    /// Read below the end the status topic had when the host started: only messages are
    /// acted on (status changes there are history the host's start-up already settled).
    var backlog: Bool
}

/// Follows the status topic's partitions that hold the host's workspaces, on a thread of
/// its own, and routes each event about one of the host's instances to that instance's
/// inbox. Reads from the host's committed offsets (group `agentcore-agent-host-<id>`,
/// partitions assigned, never subscribed, so hosts never rebalance each other), or from
/// the end when nothing was committed. Commits, about once a second and on stop, the
/// offset below which every routed event was handled.
///
/// Memory is bounded: at most `maxPending` routed events wait to be handled; the thread
/// waits for room rather than read further.
final class StatusFollower: Sendable {
    private let consumer: KafkaConsumer
    private let topic: String
    private let routes: [String: AsyncStream<Delivery>.Continuation]
    private let room: Room
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger

    /// Per partition: routed offsets not handled yet (ascending), the last offset read,
    /// and the backlog's end.
    private struct Track {
        var pending: [Int64] = []
        var handled = Set<Int64>()
        var lastRead: Int64
        var committed: Int64
        var backlogEnd: Int64
    }
    private let tracks: Mutex<[Int32: Track]>

    static func key(workspace: String, project: String, instance: String) -> String { "\(workspace)/\(project)/\(instance)" }

    init(
        config: KafkaConfig,
        topic: String,
        groupId: String,
        workspaces: Set<String>,
        routes: [String: AsyncStream<Delivery>.Continuation],
        maxPending: Int,
        logger: Logger
    ) throws {
        var options = ConsumerOptions(groupId: groupId)
        options.prefetchKiB = 2_048
        consumer = try KafkaConsumer(config: config, options: options, logger: logger)
        self.topic = topic
        self.routes = routes
        self.room = Room(slots: maxPending)
        self.logger = logger
        var t: [Int32: Track] = [:]
        var start: [TopicPartitionOffset] = []
        do {
            guard let n = try consumer.partitionCount(topic: topic) else {
                throw KafkaError.invalidArgument("topic \(topic) does not exist: run `agentcore topics create`")
            }
            let partitions = Set(workspaces.map { Murmur2.partition(forKey: $0, partitionCount: Int32(n)) }).sorted()
            let tps = partitions.map { TopicPartition(topic, $0) }
            let committed = try consumer.committed(tps)
            for tp in tps {
                let end = try consumer.watermarks(tp).high
                let from = committed.first { $0.topicPartition == tp }.map(\.offset).flatMap { $0 >= 0 ? $0 : nil } ?? end
                t[tp.partition] = Track(lastRead: from - 1, committed: from, backlogEnd: end)
                start.append(TopicPartitionOffset(tp, offset: from))
                if from < end {
                    logger.info("agent host resumes \(topic)[\(tp.partition)] at its committed offset \(from) (\(end - from) events to catch up)")
                }
            }
            try consumer.assign(start)
            // A first start commits where it starts: a crash before anything else is
            // committed resumes here, not at a later end (which would skip what came between).
            let fresh = start.filter { tp in !committed.contains { $0.topicPartition == tp.topicPartition && $0.offset >= 0 } }
            if !fresh.isEmpty { try consumer.commit(fresh) }
        } catch {
            consumer.close()
            throw error
        }
        tracks = Mutex(t)
        let thread = Thread { [self] in
            defer { finished.signal() }
            var lastCommit = ContinuousClock.now
            while running.load(ordering: .acquiring) {
                pollOnce()
                if ContinuousClock.now - lastCommit >= .seconds(1) {
                    commit(sync: false)
                    lastCommit = .now
                }
            }
        }
        thread.name = "agentcore-agent-host-status"
        thread.start()
    }

    private func pollOnce() {
        let batch = consumer.poll(maxRecords: 500, timeoutMs: 100)
        for r in batch.records {
            var route: (AsyncStream<Delivery>.Continuation, HostEvent)?
            if let v = r.value, let e = try? Event(bytes: v) { route = self.route(e) }
            let backlog = tracks.withLock { t -> Bool in
                guard var track = t[r.partition] else { return false }
                track.lastRead = r.offset
                if route != nil { track.pending.append(r.offset) }
                t[r.partition] = track
                return r.offset < track.backlogEnd
            }
            guard let (inbox, event) = route else { continue }
            while !room.take(timeout: .now() + .milliseconds(200)) {
                if !running.load(ordering: .acquiring) { return }
            }
            inbox.yield(Delivery(event: event, partition: r.partition, offset: r.offset, backlog: backlog))
        }
    }

    private func route(_ e: Event) -> (AsyncStream<Delivery>.Continuation, HostEvent)? {
        let p = e.payload
        let project: String?
        let instance: String?
        let event: HostEvent
        switch e.type {
        case .agentMessageDelivered:
            guard let m = AgentMessage(e) else { return nil }
            project = m.toProject
            instance = m.toInstance
            event = .message(m)
        case .instanceStatusChanged:
            guard let to = p["to"]?.stringValue.flatMap(InstanceStatus.init(rawValue:)) else { return nil }
            project = e.projectId
            instance = p["instance_id"]?.stringValue
            event = .statusChanged(
                from: p["from"]?.stringValue.flatMap(InstanceStatus.init(rawValue:)),
                to: to,
                reason: p["reason"]?.stringValue,
                commandId: e.commandId
            )
        case .instanceConfigured:
            project = e.projectId
            instance = p["instance_id"]?.stringValue
            event = .configured(config: p["config"] ?? [:], commandId: e.commandId)
        case .instanceRemoved:
            project = e.projectId
            instance = p["instance_id"]?.stringValue
            event = .removed(commandId: e.commandId)
        default:
            return nil
        }
        guard let project, let instance,
            let inbox = routes[Self.key(workspace: e.workspaceId, project: project, instance: instance)]
        else { return nil }
        return (inbox, event)
    }

    /// Marks a routed event handled (its offset may now be committed) and frees its slot,
    /// unless `release(_:)` freed it already.
    func done(_ d: Delivery, released: Bool = false) {
        guard d.offset >= 0 else { return }
        tracks.withLock { t in
            guard var track = t[d.partition] else { return }
            track.handled.insert(d.offset)
            while let first = track.pending.first, track.handled.remove(first) != nil { track.pending.removeFirst() }
            t[d.partition] = track
        }
        if !released { room.give() }
    }

    /// Frees a routed event's slot while it stays unhandled (a message held for an instance
    /// that is not active): held messages must not stop the events that would release them.
    func release(_ d: Delivery) {
        if d.offset >= 0 { room.give() }
    }

    /// Commits, per partition, the first routed offset not handled yet (or the offset after
    /// the last one read when all are).
    private func commit(sync: Bool) {
        let offsets = tracks.withLock { t -> [TopicPartitionOffset] in
            var out: [TopicPartitionOffset] = []
            for (p, var track) in t {
                let next = track.pending.first ?? (track.lastRead + 1)
                if next > track.committed {
                    out.append(TopicPartitionOffset(TopicPartition(topic, p), offset: next))
                    track.committed = next
                    t[p] = track
                }
            }
            return out
        }
        guard !offsets.isEmpty else { return }
        do { try consumer.commit(offsets, async: !sync) } catch {
            logger.warning(
                "agent host could not commit its status offsets (\(error)); events after the last commit are delivered again after a restart"
            )
        }
    }

    /// Stops reading, commits what was handled and closes the consumer.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        commit(sync: true)
        consumer.close()
        for inbox in routes.values { inbox.finish() }
    }
}
