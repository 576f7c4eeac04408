import AgentCoreKafka
import AgentCoreStore
import Foundation
import Logging
import Synchronization

/// One partition of the changelog topic as a `ChangelogLog`: reads through a consumer of its
/// own (assigned, no group), appends through the worker's producer. Used by one restore
/// thread at a time.
final class KafkaChangelogLog: ChangelogLog {
    let tp: TopicPartition
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    /// Longest wait for a read to make progress or an append to be acknowledged.
    let stallTimeoutMs: Int
    let isCancelled: () -> Bool

    init(
        topic: String,
        partition: Int32,
        kafka: KafkaConfig,
        producer: KafkaProducer,
        workerId: String,
        stallTimeoutMs: Int = 30_000,
        isCancelled: @escaping () -> Bool,
        logger: Logger
    ) throws {
        tp = TopicPartition(topic, partition)
        var options = ConsumerOptions(groupId: "agentcore-restore-\(workerId)")  // never joined: `assign` only
        options.enablePartitionEOF = true
        options.isolationLevel = .readUncommitted
        consumer = try KafkaConsumer(config: kafka, options: options, logger: logger)
        self.producer = producer
        self.stallTimeoutMs = stallTimeoutMs
        self.isCancelled = isCancelled
    }

    deinit { consumer.close() }

    struct Stalled: Error, CustomStringConvertible {
        var description: String
    }

    func bounds() throws -> (low: Int64, high: Int64) {
        let w = try consumer.watermarks(tp)
        return (w.low, w.high)
    }

    func read(from: Int64, until: Int64, _ body: ([(offset: Int64, entry: ChangelogEntry)]) throws -> Bool) throws {
        guard from < until else { return }
        try consumer.assign([TopicPartitionOffset(tp, offset: from)])
        defer { try? consumer.assign([]) }
        var lastProgress = DispatchTime.now().uptimeNanoseconds
        var next = from
        while next < until {
            if isCancelled() { return }
            let batch = consumer.poll(maxRecords: 2_000, timeoutMs: 100)
            var chunk: [(offset: Int64, entry: ChangelogEntry)] = []
            var done = false
            for r in batch.records where r.topicPartition == tp && r.offset >= next {
                if r.offset >= until {
                    done = true
                    break
                }
                let header = r.headers.first { $0.key == ChangelogEntry.epochHeader }?.value
                chunk.append((r.offset, try ChangelogEntry.decode(key: r.key, value: r.value, epochHeader: header)))
                next = r.offset + 1
            }
            for e in batch.events {
                switch e {
                case .endOfPartition(let p, let offset) where p == tp:
                    // The end of the log: everything that exists below `until` was read
                    // (compaction leaves gaps), or the range lies beyond the end.
                    if offset >= until || offset <= next { done = true }
                    next = max(next, offset)
                case .error(let err) where err.isFatal: throw err
                default: break
                }
            }
            if !chunk.isEmpty || done { lastProgress = DispatchTime.now().uptimeNanoseconds }
            if !chunk.isEmpty, try !body(chunk) { return }
            if done { return }
            if DispatchTime.now().uptimeNanoseconds - lastProgress > UInt64(stallTimeoutMs) * 1_000_000 {
                throw Stalled(description: "reading \(tp.topic)[\(tp.partition)] made no progress at offset \(next) for \(stallTimeoutMs) ms")
            }
        }
    }

    func append(_ entry: ChangelogEntry) throws -> Int64 {
        let (key, value, epoch) = entry.encoded
        let result = Mutex<Result<Int64, KafkaError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        try producer.produce(
            topic: tp.topic,
            partition: tp.partition,
            key: key,
            value: value,
            headers: epoch.map { [KafkaHeader(ChangelogEntry.epochHeader, $0)] } ?? []
        ) { r in
            result.withLock { $0 = r.map(\.offset) }
            done.signal()
        }
        guard done.wait(timeout: .now() + .milliseconds(stallTimeoutMs)) == .success else {
            throw Stalled(description: "appending to \(tp.topic)[\(tp.partition)] was not acknowledged within \(stallTimeoutMs) ms")
        }
        return try result.withLock { $0! }.get()
    }
}
