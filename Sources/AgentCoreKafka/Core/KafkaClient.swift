import CRdKafka
import Foundation
import Logging
import Synchronization

/// Owns one `rd_kafka_t` and its callback context.
///
/// `@unchecked Sendable`: a thin wrapper of a C handle. librdkafka documents `rd_kafka_t`
/// as thread safe for the calls used from several threads here (produce, flush, metadata,
/// watermarks, commit); the consumer's poll is only called from its owner's thread.
final class KafkaClient: @unchecked Sendable {
    let handle: OpaquePointer
    let context: KafkaClientContext
    private let destroyed = Synchronization.Atomic<Bool>(false)

    init(type: rd_kafka_type_t, conf: OpaquePointer, context: KafkaClientContext) throws(KafkaError) {
        context.install(on: conf)
        var buf = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &buf, buf.count) else {
            rd_kafka_conf_destroy(conf)
            throw .invalidArgument("cannot create Kafka client: \(cString(buf))")
        }
        // rd_kafka_new owns conf now.
        self.handle = rk
        self.context = context
        _ = Unmanaged.passRetained(context)  // balanced in destroy()
    }

    func destroy() {
        guard !destroyed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        rd_kafka_destroy(handle)
        Unmanaged.passUnretained(context).release()
    }

    deinit { destroy() }

    var fatalError: KafkaError? { context.fatal.withLock { $0 } }

    var statistics: KafkaStatistics? { context.statistics.withLock { $0 } }

    /// Partition count of `topic` from cluster metadata, or nil if the topic does not exist.
    func partitionCount(topic: String, timeoutMs: Int32) throws(KafkaError) -> Int? {
        let rkt = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(rkt) }
        var md: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(handle, 0, rkt, &md, timeoutMs)
        try KafkaError.check(err, "metadata for \(topic)")
        guard let md else { return nil }
        defer { rd_kafka_metadata_destroy(md) }
        guard md.pointee.topic_cnt > 0 else { return nil }
        let t = md.pointee.topics[0]
        if t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART { return nil }
        try KafkaError.check(t.err, "metadata for \(topic)")
        return Int(t.partition_cnt)
    }

    /// Watermarks from the broker (a network round trip).
    func queryWatermarks(_ tp: TopicPartition, timeoutMs: Int32) throws(KafkaError) -> Watermarks {
        var low: Int64 = 0
        var high: Int64 = 0
        try KafkaError.check(
            rd_kafka_query_watermark_offsets(handle, tp.topic, tp.partition, &low, &high, timeoutMs),
            "watermarks of \(tp)"
        )
        return Watermarks(low: low, high: high)
    }
}

extension Array where Element == TopicPartitionOffset {
    /// A new `rd_kafka_topic_partition_list_t`; the caller destroys it.
    func makeList() -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(Swift.max(count, 1)))!
        for tpo in self {
            let e = rd_kafka_topic_partition_list_add(list, tpo.topicPartition.topic, tpo.topicPartition.partition)!
            e.pointee.offset = tpo.offset
            if let m = tpo.metadata {
                // The list owns it (freed by `rd_kafka_topic_partition_list_destroy`).
                let bytes = [UInt8](m.utf8)
                let copy = malloc(Swift.max(bytes.count, 1))!
                if !bytes.isEmpty { bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) } }
                e.pointee.metadata = copy
                e.pointee.metadata_size = bytes.count
            }
        }
        return list
    }
}

extension UnsafeMutablePointer where Pointee == rd_kafka_topic_partition_list_t {
    var entries: [(tpo: TopicPartitionOffset, err: rd_kafka_resp_err_t)] {
        (0..<Int(pointee.cnt)).map { i in
            let e = pointee.elems[i]
            let metadata = e.metadata.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: e.metadata_size), as: UTF8.self) }
            return (TopicPartitionOffset(TopicPartition(String(cString: e.topic), e.partition), offset: e.offset, metadata: metadata), e.err)
        }
    }
}
