import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging
import Synchronization

/// What the HTTP server knows of the cluster from Kafka: the other workers (their
/// heartbeats name their HTTP address and partitions) and, while someone follows the live
/// feed, the status topic's events.
///
/// One thread reads both topics through one consumer of its own (assigned, never in the
/// group): the heartbeats from a little before their end, the status topic from its end
/// and only while there are subscribers, so that an idle console costs the worker nothing.
public final class ClusterObserver: Sendable {
    /// A worker as its latest heartbeat describes it.
    public struct WorkerInfo: Sendable, Equatable {
        public var workerId: String
        public var httpURL: String?
        /// Partition → state (`active`, `restoring`, `failed`).
        public var partitions: [Int32: String]
        public var partitionCount: Int
        /// The heartbeat's `at`, milliseconds since the epoch.
        public var atMillis: Int64
    }

    /// A live-feed subscriber: events of one workspace as SSE messages.
    struct Subscriber: Sendable {
        let workspace: String
        let continuation: AsyncStream<[UInt8]>.Continuation
    }

    private let kafka: KafkaConfig
    private let heartbeatsTopic: String
    private let statusTopic: String
    private let logger: Logger
    private let workers = Mutex<[String: WorkerInfo]>([:])
    private let subscribers = Mutex<[UInt64: Subscriber]>([:])
    private let nextSubscriber = Atomic<UInt64>(1)
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)
    /// How long a worker's heartbeat counts: after this, it is taken for gone.
    let staleAfterMillis: Int64

    public init(kafka: KafkaConfig, heartbeatsTopic: String, statusTopic: String, heartbeatIntervalMs: Int, logger: Logger) {
        self.kafka = kafka
        self.heartbeatsTopic = heartbeatsTopic
        self.statusTopic = statusTopic
        self.logger = logger
        self.staleAfterMillis = Int64(max(3 * heartbeatIntervalMs, 10_000))
    }

    public func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            while running.load(ordering: .acquiring) {
                do { try follow() } catch {
                    logger.warning("cluster view: \(error); retrying in 2 s")
                    for _ in 0..<20 where running.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.1) }
                }
            }
        }
        thread.name = "agentcore-http-observer"
        thread.start()
    }

    public func stop() {
        // Under the subscribers' lock, so that `subscribe` sees it before adding.
        let wasRunning = subscribers.withLock { _ in running.exchange(false, ordering: .acquiringAndReleasing) }
        guard wasRunning else { return }
        done.wait()
        // Finished outside the lock: finishing runs `onTermination`, which takes it.
        let all = subscribers.withLock { subs in
            defer { subs.removeAll() }
            return Array(subs.values)
        }
        for s in all { s.continuation.finish() }
    }

    /// The workers heard from recently, by id.
    public func liveWorkers(nowMillis: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> [WorkerInfo] {
        workers.withLock { Array($0.values) }.filter { nowMillis - $0.atMillis <= staleAfterMillis }
            .sorted { $0.workerId < $1.workerId }
    }

    /// The worker whose latest heartbeat says it has partition `p` active (the newest such
    /// heartbeat when two do, as for a moment after a rebalance), other than `excluding`.
    public func owner(of p: Int32, excluding: String) -> WorkerInfo? {
        liveWorkers().filter { $0.workerId != excluding && $0.partitions[p] == "active" }.max { $0.atMillis < $1.atMillis }
    }

    /// Events of `workspace` on the status topic from now on, as SSE messages, until the
    /// caller stops iterating. At most 1,000 wait for a slow reader; older ones are dropped.
    func subscribe(workspace: String) -> AsyncStream<[UInt8]> {
        let id = nextSubscriber.add(1, ordering: .relaxed).oldValue
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        continuation.onTermination = { [weak self] _ in self?.unsubscribe(id) }
        let added = subscribers.withLock { subs -> Bool in
            // Checked under the lock `stop` empties the list under: no subscriber is
            // added after it, to outlive the server.
            guard running.load(ordering: .acquiring) else { return false }
            subs[id] = Subscriber(workspace: workspace, continuation: continuation)
            return true
        }
        if !added { continuation.finish() }
        return stream
    }

    func unsubscribe(_ id: UInt64) { _ = subscribers.withLock { $0.removeValue(forKey: id) } }

    var subscriberCount: Int { subscribers.withLock { $0.count } }

    // MARK: the observer thread

    private func follow() throws {
        var options = ConsumerOptions(groupId: "agentcore-http-observer")  // never joined: `assign` only
        options.isolationLevel = .readUncommitted
        options.prefetchKiB = 1_024
        let consumer = try KafkaConsumer(config: kafka, options: options, logger: logger)
        defer { consumer.close() }
        guard let heartbeatPartitions = try consumer.partitionCount(topic: heartbeatsTopic) else {
            throw KafkaError.invalidArgument("topic \(heartbeatsTopic) does not exist")
        }
        // Every live worker heartbeated within the staleness window: read from its start
        // (by record time; instance heartbeats on the same topic make a count of records
        // no measure of it).
        let since = Int64(Date().timeIntervalSince1970 * 1000) - staleAfterMillis
        let heartbeats = try consumer.offsets(
            atOrAfter: since,
            (0..<Int32(heartbeatPartitions)).map { TopicPartition(heartbeatsTopic, $0) }
        ).map { $0.offset >= 0 ? $0 : TopicPartitionOffset($0.topicPartition, offset: TopicPartitionOffset.end) }
        var statusPartitions: [TopicPartition] = []
        if let n = try consumer.partitionCount(topic: statusTopic) {
            statusPartitions = (0..<Int32(n)).map { TopicPartition(statusTopic, $0) }
        }
        var followingStatus = false
        try consumer.assign(heartbeats)
        var lastKeepAlive = DispatchTime.now().uptimeNanoseconds
        while running.load(ordering: .acquiring) {
            // A comment line now and then: proxies keep the stream open, and a reader that
            // went away is noticed (its write fails) even when its workspace is quiet.
            let now = DispatchTime.now().uptimeNanoseconds
            if now &- lastKeepAlive >= Self.keepAliveNanos {
                lastKeepAlive = now
                for s in subscribers.withLock({ Array($0.values) }) { s.continuation.yield(Self.keepAlive) }
            }
            let wantStatus = subscriberCount > 0 && !statusPartitions.isEmpty
            if wantStatus != followingStatus {
                // Re-assigning the heartbeats at their positions keeps them where they were.
                let positions = try consumer.positions(heartbeats.map(\.topicPartition)).map {
                    $0.offset >= 0 ? $0 : TopicPartitionOffset($0.topicPartition, offset: TopicPartitionOffset.end)
                }
                let status = wantStatus ? statusPartitions.map { TopicPartitionOffset($0, offset: TopicPartitionOffset.end) } : []
                try consumer.assign(positions + status)
                followingStatus = wantStatus
            }
            let batch = consumer.poll(maxRecords: 500, timeoutMs: 200)
            for e in batch.events {
                if case .error(let err) = e, err.isFatal { throw err }
            }
            for r in batch.records {
                guard let value = r.value else { continue }
                if r.topic == heartbeatsTopic {
                    // Instance heartbeat events share the topic; they carry an event id
                    // header, worker heartbeats none. Skipped unparsed.
                    if r.headers.contains(where: { $0.key == Self.eventIdHeader }) { continue }
                    if let info = Self.workerInfo(value) {
                        workers.withLock { ws in
                            if (ws[info.workerId]?.atMillis ?? .min) <= info.atMillis { ws[info.workerId] = info }
                        }
                    }
                } else if r.topic == statusTopic {
                    deliver(value)
                }
            }
        }
    }

    static let eventIdHeader = "agentcore-event-id"
    static let keepAliveNanos: UInt64 = 15_000_000_000
    static let keepAlive = Array(": keep-alive\n\n".utf8)

    static func workerInfo(_ bytes: [UInt8]) -> WorkerInfo? {
        guard let hb = try? JSONParser.parse(bytes), let id = hb["worker_id"]?.stringValue,
            let at = hb["at"]?.stringValue.flatMap(Timestamp.parseMillis)
        else { return nil }
        var partitions: [Int32: String] = [:]
        for p in hb["partitions"]?.arrayValue ?? [] {
            if let n = p["partition"]?.intValue.flatMap(Int32.init(exactly:)) { partitions[n] = p["state"]?.stringValue ?? "active" }
        }
        return WorkerInfo(
            workerId: id,
            httpURL: hb["http_url"]?.stringValue,
            partitions: partitions,
            partitionCount: Int(exactly: hb["partition_count"]?.intValue ?? 0) ?? 0,
            atMillis: at
        )
    }

    /// Hands one status event to the subscribers of its workspace as an SSE message.
    private func deliver(_ value: [UInt8]) {
        guard let event = try? JSONParser.parse(value), let ws = event["workspace_id"]?.stringValue else { return }
        let targets = subscribers.withLock { $0.values.filter { $0.workspace == ws } }
        guard !targets.isEmpty else { return }
        let message = Self.sseMessage(
            id: event["id"]?.stringValue,
            event: event["type"]?.stringValue,
            data: event.canonicalBytes
        )
        for t in targets { t.continuation.yield(message) }
    }

    /// `id:`, `event:` and one `data:` line (canonical JSON has no newline), then a blank line.
    static func sseMessage(id: String?, event: String?, data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if let id { out += Array("id: \(id)\n".utf8) }
        if let event { out += Array("event: \(event)\n".utf8) }
        out += Array("data: ".utf8) + data + Array("\n\n".utf8)
        return out
    }
}
