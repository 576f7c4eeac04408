import CRdKafka
import Foundation
import Logging
import Synchronization

/// A librdkafka producer: idempotent by default (`enable.idempotence=true`, `acks=all`),
/// murmur2 partitioning (the Java client's, so every language agrees on a key's partition),
/// per-record delivery results, flush with a deadline, and transactions when configured
/// with a `transactional.id`.
///
/// Delivery callbacks run on the producer's own poll thread, or on the caller's while
/// `produce` waits for room in a full queue; they must not block.
public final class KafkaProducer: Sendable {
    /// Settings agentcore puts under the user's configuration (the user may override them).
    public static let defaults: [(String, String)] = [
        ("enable.idempotence", "true"), ("acks", "all"), ("partitioner", "murmur2_random"),
        ("linger.ms", "5"), ("statistics.interval.ms", "0"),
    ]

    let client: KafkaClient
    private let pollThread: PollThread
    /// Topic handles held for the producer's lifetime (see `register(topics:)`).
    private let registered = Mutex<[String: TopicHandle]>([:])
    private let closed = Atomic<Bool>(false)
    public let isTransactional: Bool

    public init(config: KafkaConfig, logger: Logger = .library("agentcore.kafka.producer")) throws(KafkaError) {
        let context = KafkaClientContext(logger: logger)
        let conf = try config.makeConf(extra: Self.defaults)
        rd_kafka_conf_set_dr_msg_cb(conf) { rk, msg, _ in
            guard let ctx = KafkaClientContext.from(rk), let msg else { return }
            let id = UInt(bitPattern: msg.pointee._private)
            let m = msg.pointee
            if id & KafkaClientContext.groupBit != 0 {
                // A group is told only of failures: no report is built per record.
                if m.err != RD_KAFKA_RESP_ERR_NO_ERROR { ctx.groupFailure(id, KafkaError(m.err, "delivery")) }
                return
            }
            let result: Result<DeliveryReport, KafkaError>
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                result = .success(
                    DeliveryReport(topic: String(cString: rd_kafka_topic_name(m.rkt)), partition: m.partition, offset: m.offset)
                )
            } else {
                result = .failure(KafkaError(m.err, "delivery"))
            }
            ctx.completeDelivery(id, result)
        }
        isTransactional = config.properties["transactional.id"] != nil
        client = try KafkaClient(type: RD_KAFKA_PRODUCER, conf: conf, context: context)
        pollThread = PollThread(name: "agentcore-producer-poll") { [client] in rd_kafka_poll(client.handle, 100) }
    }

    deinit { close(timeoutMs: 0) }

    /// Enqueues one record; `onDelivery` is called once with where it landed or why not.
    /// Blocks (briefly, polling) while librdkafka's local queue is full, which bounds memory.
    public func produce(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader] = [],
        onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    ) throws(KafkaError) {
        let id = client.context.registerDelivery(onDelivery)
        do {
            try enqueue(topic: topic, partition: partition, key: key, value: value, headers: headers, id: id)
        } catch {
            client.context.deliveries.withLock { _ = $0.removeValue(forKey: id) }
            throw error
        }
    }

    /// Hands one record to librdkafka under delivery `id`, polling while its queue is full.
    private func enqueue(
        topic: String,
        partition: Int32?,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader],
        id: UInt
    ) throws(KafkaError) {
        try enqueue { produceOnce(topic: topic, partition: partition, key: key, value: value, headers: headers, id: id) }
    }

    /// Runs `attempt` (one `rd_kafka_produceva`) until it is not refused for a full queue,
    /// polling meanwhile.
    private func enqueue(_ attempt: () -> KafkaError?) throws(KafkaError) {
        if closed.load(ordering: .acquiring) { throw .invalidArgument("producer is closed") }
        if let fatal = client.fatalError { throw fatal }
        while let err = attempt() {
            guard err.code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue else { throw err }
            rd_kafka_poll(client.handle, 10)
        }
    }

    /// Records whose deliveries are reported together: one registration for them all, and a
    /// handler told only of failures (no per-record report). For a publishing round that
    /// cares whether all of it landed. Release it once the records were flushed.
    public struct DeliveryGroup: Sendable {
        let id: UInt
    }

    public func makeDeliveryGroup(onFailure: @escaping @Sendable (KafkaError) -> Void) -> DeliveryGroup {
        DeliveryGroup(id: client.context.registerGroup(onFailure))
    }

    /// Forgets the group: failures of its records still in flight go unreported.
    public func release(_ group: DeliveryGroup) { client.context.releaseGroup(group.id) }

    /// Enqueues one record of `group` (see `produce(topic:partition:key:value:headers:onDelivery:)`).
    public func produce(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader] = [],
        group: DeliveryGroup
    ) throws(KafkaError) {
        try enqueue(topic: topic, partition: partition, key: key, value: value, headers: headers, id: group.id)
    }

    /// Enqueues one record of `group` from buffers, which librdkafka copies before this
    /// returns (no array per field: for records sliced out of a larger buffer), with at most
    /// one header.
    public func produce(
        topic: String,
        key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer,
        header: (name: String, value: UnsafeRawBufferPointer)?,
        group: DeliveryGroup
    ) throws(KafkaError) {
        let h = header.map { (name: $0.name, value: Optional($0.value)) }
        try enqueue { produceOnce(topic: topic, partition: nil, key: key, value: value, header: h, id: group.id) }
    }

    /// Sends one record and waits for its delivery.
    @discardableResult
    public func send(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader] = []
    ) async throws -> DeliveryReport {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<DeliveryReport, any Error>) in
            do {
                try produce(topic: topic, partition: partition, key: key, value: value, headers: headers) { r in
                    c.resume(with: r.mapError { $0 as any Error })
                }
            } catch {
                c.resume(throwing: error)
            }
        }
    }

    private func produceOnce(
        topic: String,
        partition: Int32?,
        key: [UInt8]?,
        value: [UInt8]?,
        headers: [KafkaHeader],
        id: UInt
    ) -> KafkaError? {
        // No heap allocation for the common shapes (no header, or one): this runs once per
        // record published.
        withOptionalBytes(key) { k in
            withOptionalBytes(value) { v in
                if headers.isEmpty { return produceOnce(topic: topic, partition: partition, key: k, value: v, header: nil, id: id) }
                if headers.count == 1 {
                    let h = headers[0]
                    return withOptionalBytes(h.value) { hv in
                        produceOnce(topic: topic, partition: partition, key: k, value: v, header: (h.key, hv), id: id)
                    }
                }
                let names = headers.map { strdup($0.key) }
                defer { for n in names { free(n) } }
                return withHeaderValues(headers, 0) { hv in
                    topic.withCString { topicC in
                        produceVU(topicC, topic: topic, partition: partition, key: k, value: v, id: id, headerCount: hv.count) { i, header in
                            header.name = UnsafePointer(names[i])
                            header.val = hv[i].0
                            header.size = hv[i].1
                        }
                    }
                }
            }
        }
    }

    /// One record from buffers (librdkafka copies them), with at most one header (a nil
    /// value: a header without one).
    private func produceOnce(
        topic: String,
        partition: Int32?,
        key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?,
        header: (name: String, value: UnsafeRawBufferPointer?)?,
        id: UInt
    ) -> KafkaError? {
        topic.withCString { topicC in
            guard let header else {
                return produceVU(topicC, topic: topic, partition: partition, key: key, value: value, id: id, headerCount: 0) { _, _ in }
            }
            return header.name.withCString { nameC in
                produceVU(topicC, topic: topic, partition: partition, key: key, value: value, id: id, headerCount: 1) { _, h in
                    h.name = nameC
                    h.val = header.value?.baseAddress
                    h.size = header.value.map { $0.count } ?? -1
                }
            }
        }
    }

    /// `rd_kafka_produceva` with the record's fields on the stack; `fillHeader(i, &h)` sets
    /// header i of `headerCount`.
    private func produceVU(
        _ topicC: UnsafePointer<CChar>,
        topic: String,
        partition: Int32?,
        key: UnsafeRawBufferPointer?,
        value: UnsafeRawBufferPointer?,
        id: UInt,
        headerCount: Int,
        fillHeader: (Int, inout rd_kafka_vu_t.__Unnamed_union_u.__Unnamed_struct_header) -> Void
    ) -> KafkaError? {
        withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 6 + headerCount) { vus in
            var n = 0
            func set(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                var v = rd_kafka_vu_t()
                v.vtype = type
                fill(&v)
                vus[n] = v
                n += 1
            }
            set(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topicC }
            set(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition ?? RD_KAFKA_PARTITION_UA }
            set(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
            set(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: id) }
            set(RD_KAFKA_VTYPE_KEY) {
                $0.u.mem.ptr = key?.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                $0.u.mem.size = key?.count ?? 0
            }
            set(RD_KAFKA_VTYPE_VALUE) {
                $0.u.mem.ptr = value?.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                $0.u.mem.size = value?.count ?? 0
            }
            for i in 0..<headerCount {
                set(RD_KAFKA_VTYPE_HEADER) { fillHeader(i, &$0.u.header) }
            }
            guard let err = rd_kafka_produceva(client.handle, vus.baseAddress, n) else { return nil }
            return KafkaError(consuming: err, context: "produce to \(topic)")
        }
    }

    /// Waits until every enqueued record is delivered or failed, at most `timeoutMs`.
    public func flush(timeoutMs: Int32) throws(KafkaError) {
        if closed.load(ordering: .acquiring) { return }
        try KafkaError.check(rd_kafka_flush(client.handle, timeoutMs), "flush")
    }

    /// Records enqueued but not yet delivered.
    public var outstanding: Int { closed.load(ordering: .acquiring) ? 0 : Int(rd_kafka_outq_len(client.handle)) }

    public var statistics: KafkaStatistics? { client.statistics }

    public func partitionCount(topic: String, timeoutMs: Int32 = 10_000) throws(KafkaError) -> Int? {
        if closed.load(ordering: .acquiring) { throw .invalidArgument("producer is closed") }
        return try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
    }

    /// Looks up each topic's metadata now and keeps its handle for the producer's lifetime,
    /// so that the first record to a topic does not wait for librdkafka to learn its
    /// partitions (about a metadata refresh interval, during which a publishing round that
    /// waits for every delivery stalls). Returns each topic's partition count, nil for a
    /// topic that does not exist.
    @discardableResult
    public func register(topics: [String], timeoutMs: Int32 = 10_000) throws(KafkaError) -> [String: Int?] {
        if closed.load(ordering: .acquiring) { throw .invalidArgument("producer is closed") }
        var counts: [String: Int?] = [:]
        for topic in topics {
            registered.withLock { handles in
                if handles[topic] == nil, let rkt = rd_kafka_topic_new(client.handle, topic, nil) {
                    handles[topic] = TopicHandle(rkt: rkt)
                }
            }
            counts[topic] = try client.partitionCount(topic: topic, timeoutMs: timeoutMs)
        }
        return counts
    }

    /// Flushes (up to `timeoutMs`), fails whatever is still undelivered (its callbacks run
    /// with `_PURGE_QUEUE`/`_PURGE_INFLIGHT`, so no `send` waits forever), and destroys the
    /// client. Idempotent; the producer is unusable afterwards.
    public func close(timeoutMs: Int32 = 10_000) {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if timeoutMs > 0 { _ = rd_kafka_flush(client.handle, timeoutMs) }
        pollThread.stop()
        _ = rd_kafka_purge(client.handle, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
        _ = rd_kafka_poll(client.handle, 0)
        let left = client.context.deliveries.withLock { d -> [@Sendable (Result<DeliveryReport, KafkaError>) -> Void] in
            defer { d.removeAll() }
            return Array(d.values)
        }
        for callback in left { callback(.failure(KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "producer closed"))) }
        client.context.groups.withLock { $0.removeAll() }
        registered.withLock { handles in
            for h in handles.values { rd_kafka_topic_destroy(h.rkt) }
            handles.removeAll()
        }
        client.destroy()
    }
}

/// A librdkafka topic handle (`rd_kafka_topic_t`, thread safe).
struct TopicHandle: @unchecked Sendable {
    let rkt: OpaquePointer
}

/// `b`'s bytes for the duration of `body` (nil for nil).
func withOptionalBytes<R>(_ b: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let b else { return body(nil) }
    return b.withUnsafeBytes { body($0) }
}

/// Pins every header value's bytes for the duration of `body` (nil values give size -1).
func withHeaderValues<R>(_ headers: [KafkaHeader], _ i: Int, _ acc: [(UnsafeRawPointer?, Int)] = [], _ body: ([(UnsafeRawPointer?, Int)]) -> R) -> R {
    if i == headers.count { return body(acc) }
    guard let v = headers[i].value else { return withHeaderValues(headers, i + 1, acc + [(nil, -1)], body) }
    return v.withUnsafeBytes { withHeaderValues(headers, i + 1, acc + [($0.baseAddress, $0.count)], body) }
}

/// A dedicated thread that calls `body` until stopped: blocking librdkafka calls stay off
/// Swift's cooperative pool.
final class PollThread: Sendable {
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while self.running.load(ordering: .acquiring) { body() }
            self.done.signal()
        }
        thread.name = name
        thread.start()
    }

    func stop() {
        if running.exchange(false, ordering: .acquiringAndReleasing) { done.wait() }
    }
}
