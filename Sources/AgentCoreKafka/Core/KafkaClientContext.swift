import CRdKafka
import Foundation
import Logging
import Synchronization

/// What librdkafka's callbacks reach through the instance's opaque pointer. Callbacks run on
/// librdkafka's threads or inside poll calls, so all mutable state is behind a mutex.
final class KafkaClientContext: Sendable {
    let logger: Logger
    let deliveries = Mutex<[UInt: @Sendable (Result<DeliveryReport, KafkaError>) -> Void]>([:])
    let nextDeliveryId = Atomic<UInt>(1)
    /// Delivery groups (`KafkaProducer.DeliveryGroup`): one failure handler for many records.
    let groups = Mutex<[UInt: @Sendable (KafkaError) -> Void]>([:])
    /// Set in the opaque of a record produced in a group.
    static let groupBit: UInt = 1 << (UInt.bitWidth - 1)
    let statistics = Mutex<KafkaStatistics?>(nil)
    let fatal = Mutex<KafkaError?>(nil)
    let rebalance: Mutex<RebalanceCallbacks?> = Mutex(nil)

    init(logger: Logger) { self.logger = logger }

    static func from(_ rk: OpaquePointer?) -> KafkaClientContext? {
        guard let rk, let p = rd_kafka_opaque(rk) else { return nil }
        return Unmanaged<KafkaClientContext>.fromOpaque(p).takeUnretainedValue()
    }

    /// Installs the callbacks every agentcore client has: logs, errors, statistics.
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let ctx = KafkaClientContext.from(rk) else { return }
            let text = message.map { String(cString: $0) } ?? ""
            let fac = facility.map { String(cString: $0) } ?? ""
            // syslog levels: 0-3 error, 4 warning, 5-6 info/notice, 7 debug.
            var lvl: Logger.Level = level <= 3 ? .error : level == 4 ? .warning : level <= 6 ? .info : .debug
            // Properties shared by producer and consumer configs warn on the other kind.
            if fac == "CONFWARN" { lvl = .debug }
            // Connection failures are retried by librdkafka; callers see a typed error if
            // they last, so a refused connection is a warning, not an error.
            if fac == "FAIL" && lvl == .error { lvl = .warning }
            // A commit refused because a rebalance is under way is expected; the next owner
            // commits again.
            if fac == "COMMITFAIL" && text.contains("rebalance in progress") { lvl = .info }
            ctx.logger.log(level: lvl, "\(text)", metadata: ["agentcore.kafka.facility": "\(fac)"])
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, _ in
            guard let ctx = KafkaClientContext.from(rk) else { return }
            let text = reason.map { String(cString: $0) } ?? ""
            let code = rd_kafka_resp_err_t(err)
            if code == RD_KAFKA_RESP_ERR__FATAL, let rk {
                var buf = [CChar](repeating: 0, count: 512)
                let orig = rd_kafka_fatal_error(rk, &buf, buf.count)
                let e = KafkaError(code: orig.rawValue, message: cString(buf), isFatal: true)
                ctx.fatal.withLock { $0 = e }
                ctx.logger.critical("fatal Kafka error: \(e)")
            } else if code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__TRANSPORT {
                ctx.logger.warning("Kafka connection problem: \(text)")
            } else {
                ctx.logger.error("Kafka error \(String(cString: rd_kafka_err2name(code))): \(text)")
            }
        }
        rd_kafka_conf_set_stats_cb(conf) { rk, json, len, _ in
            guard let ctx = KafkaClientContext.from(rk), let json else { return 0 }
            let data = Data(bytes: json, count: len)
            ctx.statistics.withLock { $0 = KafkaStatistics(json: data) }
            return 0
        }
    }

    func registerDelivery(_ callback: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void) -> UInt {
        let id = nextDeliveryId.wrappingAdd(1, ordering: .relaxed).oldValue
        deliveries.withLock { $0[id] = callback }
        return id
    }

    func registerGroup(_ onFailure: @escaping @Sendable (KafkaError) -> Void) -> UInt {
        let id = nextDeliveryId.wrappingAdd(1, ordering: .relaxed).oldValue | Self.groupBit
        groups.withLock { $0[id] = onFailure }
        return id
    }

    func releaseGroup(_ id: UInt) { _ = groups.withLock { $0.removeValue(forKey: id) } }

    func groupFailure(_ id: UInt, _ error: KafkaError) {
        let handler = groups.withLock { $0[id] }
        handler?(error)
    }

    func completeDelivery(_ id: UInt, _ result: Result<DeliveryReport, KafkaError>) {
        let cb = deliveries.withLock { $0.removeValue(forKey: id) }
        cb?(result)
    }
}

/// The application's hooks into a consumer group rebalance (see `KafkaConsumer`).
struct RebalanceCallbacks: Sendable {
    var onAssign: @Sendable ([TopicPartition]) -> [TopicPartitionOffset]
    var onRevoke: @Sendable ([TopicPartition], _ lost: Bool) -> Void
    var afterAssign: @Sendable ([TopicPartition]) -> Void = { _ in }
}

/// The parts of librdkafka's statistics JSON that agentcore reports.
public struct KafkaStatistics: Sendable {
    /// Messages waiting in the producer queue.
    public var queuedMessages: Int64 = 0
    /// Bytes waiting in the producer queue.
    public var queuedBytes: Int64 = 0
    /// Messages sent and received since start.
    public var transmittedMessages: Int64 = 0
    public var receivedMessages: Int64 = 0
    /// Consumer lag per partition as librdkafka computed it.
    public var consumerLag: [TopicPartition: Int64] = [:]
    /// The whole document, for whoever needs more.
    public var raw: Data

    init(json: Data) {
        raw = json
        guard let o = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return }
        queuedMessages = (o["msg_cnt"] as? NSNumber)?.int64Value ?? 0
        queuedBytes = (o["msg_size"] as? NSNumber)?.int64Value ?? 0
        transmittedMessages = (o["txmsgs"] as? NSNumber)?.int64Value ?? 0
        receivedMessages = (o["rxmsgs"] as? NSNumber)?.int64Value ?? 0
        for (topic, t) in (o["topics"] as? [String: Any]) ?? [:] {
            for (p, part) in ((t as? [String: Any])?["partitions"] as? [String: Any]) ?? [:] {
                guard let pid = Int32(p), pid >= 0, let lag = ((part as? [String: Any])?["consumer_lag"] as? NSNumber)?.int64Value,
                    lag >= 0
                else { continue }
                consumerLag[TopicPartition(topic, pid)] = lag
            }
        }
    }
}
