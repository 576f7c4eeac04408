import CRdKafka
import Logging
import Synchronization

/// Settings of a consumer group member, typed; any other librdkafka property goes through
/// `KafkaConfig.properties` (the escape hatch, applied after these defaults).
public struct ConsumerOptions: Sendable {
    public var groupId: String
    /// Static membership: a restart with the same id within the session timeout keeps the
    /// member's partitions without a rebalance.
    public var groupInstanceId: String?
    /// Assignors in order of preference (`partition.assignment.strategy`).
    public var assignmentStrategy: [AssignmentStrategy] = [.range, .roundRobin]
    /// `.readCommitted` (default) hides aborted transactional records.
    public var isolationLevel = IsolationLevel.readCommitted
    /// Where to start without a committed or supplied offset.
    public var autoOffsetReset = OffsetReset.earliest
    public var sessionTimeout: Duration = .seconds(45)
    public var heartbeatInterval: Duration = .seconds(3)
    public var maxPollInterval: Duration = .seconds(300)
    /// Report reaching the end of a partition as a `ConsumerEvent.endOfPartition`.
    public var enablePartitionEOF = false
    /// `queued.max.messages.kbytes`: fetched records librdkafka holds before `poll` takes
    /// them (nil: librdkafka's default, 64 MiB). A `-X` property of the same name wins.
    public var prefetchKiB: Int?

    public init(groupId: String) { self.groupId = groupId }

    public enum AssignmentStrategy: String, Sendable {
        /// Eager; partition p of co-partitioned topics to one member (agentcore's workers).
        case range
        case roundRobin = "roundrobin"
        /// Incremental (KIP-429); not combinable with the eager ones.
        case cooperativeSticky = "cooperative-sticky"
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "read_committed"
        case readUncommitted = "read_uncommitted"
    }

    public enum OffsetReset: String, Sendable {
        case earliest, latest
        /// Fail the partition with an error instead of guessing.
        case error
    }

    /// The options as librdkafka properties.
    var properties: [(String, String)] {
        [
            ("group.id", groupId), ("partition.assignment.strategy", assignmentStrategy.map(\.rawValue).joined(separator: ",")),
            ("isolation.level", isolationLevel.rawValue), ("auto.offset.reset", autoOffsetReset.rawValue),
            ("session.timeout.ms", String(sessionTimeout.milliseconds)), ("heartbeat.interval.ms", String(heartbeatInterval.milliseconds)),
            ("max.poll.interval.ms", String(maxPollInterval.milliseconds)),
            ("enable.partition.eof", enablePartitionEOF ? "true" : "false"),
        ]
    }
}

extension Duration {
    /// Whole milliseconds (rounded down), as librdkafka's `*.ms` properties take them.
    public var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// What a poll returns besides records.
public enum ConsumerEvent: Sendable, Equatable {
    case endOfPartition(TopicPartition, offset: Int64)
    case error(KafkaError)
}

/// A batch from `poll`: records in the order librdkafka delivered them (per partition in
/// offset order) and any events seen while collecting them.
public struct ConsumerBatch: Sendable {
    public var records: [KafkaRecord] = []
    public var events: [ConsumerEvent] = []
}

/// A consumer group member over librdkafka.
///
/// Offsets are not auto-committed and not auto-stored: the application decides what was
/// processed. Rebalances run the application's `onAssign`/`onRevoke` **inside** `poll`, on
/// the polling thread, before librdkafka changes the assignment: on revoke the application
/// can finish its batch, flush and close what it holds; on assign it returns the offsets to
/// start from (its own stored positions), which are applied with the assignment itself, so
/// no record of a partition is delivered before its assign handler ran.
///
/// `@unchecked Sendable`: wraps a C handle. `poll`, `seek`, `pause`, `resume` and `close`
/// must be called from one thread (the owner's loop); the query calls are thread safe.
public final class KafkaConsumer: @unchecked Sendable {
    let client: KafkaClient
    public let options: ConsumerOptions
    private let closed = Atomic<Bool>(false)

    public init(
        config: KafkaConfig,
        options: ConsumerOptions,
        onAssign: @escaping @Sendable ([TopicPartition]) -> [TopicPartitionOffset] = { _ in [] },
        onRevoke: @escaping @Sendable ([TopicPartition], _ lost: Bool) -> Void = { _, _ in },
        afterAssign: @escaping @Sendable ([TopicPartition]) -> Void = { _ in },
        logger: Logger = .library("agentcore.kafka.consumer")
    ) throws(KafkaError) {
        self.options = options
        let context = KafkaClientContext(logger: logger)
        context.rebalance.withLock {
            $0 = RebalanceCallbacks(onAssign: onAssign, onRevoke: onRevoke, afterAssign: afterAssign)
        }
        var overrides: [(String, String)] =
            [
                ("enable.auto.commit", "false"), ("enable.auto.offset.store", "false"),
            ] + options.properties
        if let id = options.groupInstanceId { overrides.append(("group.instance.id", id)) }
        var extra = [("statistics.interval.ms", "0")]
        if let kib = options.prefetchKiB { extra.append(("queued.max.messages.kbytes", String(kib))) }
        let conf = try config.makeConf(extra: extra, overrides: overrides)
        rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, _ in
            guard let rk, let partitions, let ctx = KafkaClientContext.from(rk) else { return }
            KafkaConsumer.rebalance(rk: rk, err: err, partitions: partitions, ctx: ctx)
        }
        client = try KafkaClient(type: RD_KAFKA_CONSUMER, conf: conf, context: context)
        rd_kafka_poll_set_consumer(client.handle)
    }

    deinit { close() }

    static func rebalance(
        rk: OpaquePointer,
        err: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>,
        ctx: KafkaClientContext
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let tps = partitions.entries.map(\.tpo.topicPartition)
        let callbacks = ctx.rebalance.withLock { $0 }
        if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            let starts = callbacks?.onAssign(tps) ?? []
            for s in starts {
                if let e = rd_kafka_topic_partition_list_find(partitions, s.topicPartition.topic, s.topicPartition.partition) {
                    e.pointee.offset = s.offset
                }
            }
            ctx.logger.info("assigned \(tps.count) partitions", metadata: ["agentcore.partitions": "\(tps)"])
            if cooperative {
                if let e = rd_kafka_incremental_assign(rk, partitions) {
                    ctx.logger.error("incremental assign failed: \(KafkaError(consuming: e))")
                }
            } else {
                let r = rd_kafka_assign(rk, partitions)
                if r != RD_KAFKA_RESP_ERR_NO_ERROR { ctx.logger.error("assign failed: \(KafkaError(r))") }
            }
            // Still inside the callback: partitions paused here fetch nothing at all.
            callbacks?.afterAssign(tps)
        } else {
            let lost = rd_kafka_assignment_lost(rk) != 0
            callbacks?.onRevoke(tps, lost)
            ctx.logger.info("revoked \(tps.count) partitions", metadata: ["agentcore.partitions": "\(tps)", "agentcore.lost": "\(lost)"])
            if cooperative {
                if let e = rd_kafka_incremental_unassign(rk, partitions) {
                    ctx.logger.error("incremental unassign failed: \(KafkaError(consuming: e))")
                }
            } else {
                _ = rd_kafka_assign(rk, nil)
            }
        }
    }

    /// Joins the group for `topics`.
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in topics { rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA) }
        try KafkaError.check(rd_kafka_subscribe(client.handle, list), "subscribe")
    }

    /// Waits up to `timeoutMs` for the first record, then takes what is already queued, up
    /// to `maxRecords`, without waiting for a full batch. Rebalance callbacks run in here.
    public func poll(maxRecords: Int, timeoutMs: Int32) -> ConsumerBatch {
        var batch = ConsumerBatch()
        if closed.load(ordering: .acquiring) { return batch }
        var wait = timeoutMs
        while batch.records.count < maxRecords {
            guard let msg = rd_kafka_consumer_poll(client.handle, wait) else { break }
            wait = 0
            defer { rd_kafka_message_destroy(msg) }
            let m = msg.pointee
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                batch.events.append(.endOfPartition(TopicPartition(topic, m.partition), offset: m.offset))
                continue
            }
            if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                let text = rd_kafka_message_errstr(msg).map { String(cString: $0) } ?? ""
                batch.events.append(.error(KafkaError(code: m.err.rawValue, message: text, isFatal: m.err == RD_KAFKA_RESP_ERR__FATAL)))
                continue
            }
            batch.records.append(Self.copy(msg))
        }
        return batch
    }

    static func copy(_ msg: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaRecord {
        let m = msg.pointee
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(msg, &type)
        let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) }
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer?
        if rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var i = 0
            var name: UnsafePointer<CChar>?
            var val: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(
                    KafkaHeader(name.map { String(cString: $0) } ?? "", val.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) })
                )
                i += 1
            }
        }
        return KafkaRecord(
            topic: String(cString: rd_kafka_topic_name(m.rkt)),
            partition: m.partition,
            offset: m.offset,
            timestamp: ts,
            key: key,
            value: value,
            headers: headers
        )
    }

    /// Leaves the subscription; the revoke handler runs in a following `poll`.
    public func unsubscribe() throws(KafkaError) {
        try checkOpen()
        try KafkaError.check(rd_kafka_unsubscribe(client.handle), "unsubscribe")
    }

    /// Consumes exactly these partitions from these offsets, without group management (do
    /// not mix with `subscribe`).
    public func assign(_ offsets: [TopicPartitionOffset]) throws(KafkaError) {
        try checkOpen()
        let list = offsets.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_assign(client.handle, list), "assign")
    }

    /// The current assignment.
    /// Whether librdkafka considers the current assignment lost (the group session timed
    /// out): the partitions may be another member's already.
    public var assignmentLost: Bool {
        if closed.load(ordering: .acquiring) { return false }
        return rd_kafka_assignment_lost(client.handle) != 0
    }

    public func assignment() throws(KafkaError) -> [TopicPartition] {
        try checkOpen()
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        try KafkaError.check(rd_kafka_assignment(client.handle, &list), "assignment")
        guard let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return list.entries.map(\.tpo.topicPartition)
    }

    /// Moves the fetch position of assigned partitions.
    public func seek(_ positions: [TopicPartitionOffset], timeoutMs: Int32 = 10_000) throws(KafkaError) {
        try checkOpen()
        let list = positions.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let e = rd_kafka_seek_partitions(client.handle, list, timeoutMs) { throw KafkaError(consuming: e, context: "seek") }
        for (tpo, err) in list.entries where err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(err, "seek \(tpo.topicPartition)")
        }
    }

    /// Stops fetching from partitions (e.g. while the producer catches up); records already
    /// fetched may still be returned once.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaError) {
        try checkOpen()
        let list = partitions.map { TopicPartitionOffset($0, offset: TopicPartitionOffset.invalid) }.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_pause_partitions(client.handle, list), "pause")
    }

    public func resume(_ partitions: [TopicPartition]) throws(KafkaError) {
        try checkOpen()
        let list = partitions.map { TopicPartitionOffset($0, offset: TopicPartitionOffset.invalid) }.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_resume_partitions(client.handle, list), "resume")
    }

    /// Starts fetching partitions again from the application's positions (`positions`, as
    /// `positions(_:)` gives them), and wakes the fetcher: a seek to where the application
    /// stands. librdkafka 2.0.2 stops fetching while its prefetch queue is above
    /// `queued.max.messages.kbytes`, and looks again only when its broker thread next wakes,
    /// up to a second later when nothing else happens on that connection: a consumer that
    /// drained the queue meanwhile waits with records on the broker. A pause and resume
    /// would not do (those are served by another thread, which does not wake the fetcher).
    /// Records already queued and a fetch in flight for these partitions are dropped and
    /// fetched again from the same positions.
    public func refetch(_ positions: [TopicPartitionOffset]) throws(KafkaError) {
        try seek(positions, timeoutMs: 1_000)
    }

    /// Commits offsets (the next offset to read per partition) to the group.
    public func commit(_ offsets: [TopicPartitionOffset], async: Bool = false) throws(KafkaError) {
        try checkOpen()
        guard !offsets.isEmpty else { return }
        let list = offsets.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(client.handle, list, async ? 1 : 0)
        if err == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
        try KafkaError.check(err, "commit")
    }

    /// The group's committed offsets for `partitions` (a broker round trip).
    public func committed(_ partitions: [TopicPartition], timeoutMs: Int32 = 10_000) throws(KafkaError) -> [TopicPartitionOffset] {
        try checkOpen()
        let list = partitions.map { TopicPartitionOffset($0, offset: TopicPartitionOffset.invalid) }.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_committed(client.handle, list, timeoutMs), "committed offsets")
        return list.entries.map(\.tpo)
    }

    /// Per partition, the first offset whose record timestamp is at or after `millis`
    /// (`TopicPartitionOffset.end` where none is).
    public func offsets(
        atOrAfter millis: Int64,
        _ partitions: [TopicPartition],
        timeoutMs: Int32 = 10_000
    ) throws(KafkaError)
        -> [TopicPartitionOffset]
    {
        try checkOpen()
        let list = partitions.map { TopicPartitionOffset($0, offset: millis) }.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_offsets_for_times(client.handle, list, timeoutMs), "offsets for times")
        return list.entries.map(\.tpo)
    }

    /// The next offset the consumer will fetch per partition (invalid before the first fetch).
    public func positions(_ partitions: [TopicPartition]) throws(KafkaError) -> [TopicPartitionOffset] {
        try checkOpen()
        let list = partitions.map { TopicPartitionOffset($0, offset: TopicPartitionOffset.invalid) }.makeList()
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try KafkaError.check(rd_kafka_position(client.handle, list), "positions")
        return list.entries.map(\.tpo)
    }

    /// Watermarks as last seen in fetch responses (no network round trip).
    public func cachedWatermarks(_ tp: TopicPartition) -> Watermarks? {
        if isClosed { return nil }
        var low: Int64 = 0
        var high: Int64 = 0
        guard rd_kafka_get_watermark_offsets(client.handle, tp.topic, tp.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
            high >= 0
        else { return nil }
        return Watermarks(low: low, high: high)
    }

    /// Watermarks from the broker.
    public func watermarks(_ tp: TopicPartition, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Watermarks {
        try checkOpen()
        return try client.queryWatermarks(tp, timeoutMs: timeoutMs)
    }

    /// Lag per partition: high watermark minus position (or minus `positions` if given).
    public func lag(_ partitions: [TopicPartition]) throws(KafkaError) -> [TopicPartition: Int64] {
        try checkOpen()
        var out: [TopicPartition: Int64] = [:]
        for p in try positions(partitions) {
            guard let w = cachedWatermarks(p.topicPartition) else { continue }
            out[p.topicPartition] = max(0, w.high - (p.offset >= 0 ? p.offset : w.low))
        }
        return out
    }

    public func partitionCount(topic: String, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Int? {
        try checkOpen()
        return try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
    }

    public var statistics: KafkaStatistics? { client.statistics }

    /// Whether `close()` ran: the client is gone, every call but `poll` (empty) throws.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    private func checkOpen() throws(KafkaError) {
        if closed.load(ordering: .acquiring) { throw .invalidArgument("consumer is closed") }
    }

    /// A fatal error raised by librdkafka, after which the consumer must be re-created.
    public var fatalError: KafkaError? { client.fatalError }

    /// Leaves the group (running the revoke handler for what is assigned) and destroys the
    /// client. Idempotent; call from the polling thread.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let err = rd_kafka_consumer_close(client.handle)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { client.context.logger.warning("consumer close: \(KafkaError(err))") }
        client.destroy()
    }
}
