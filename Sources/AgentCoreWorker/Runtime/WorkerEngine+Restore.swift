import AgentCoreKafka
import AgentCoreStore
import Foundation

/// Partitions on assignment: open (or set aside and recreate) the store, restore it from the
/// changelog on a thread of its own with the partition's input paused, then seek the input
/// to the restored offsets and resume. Runs on the loop thread.
extension WorkerEngine {
    func storePath(_ p: Int32) -> String {
        (config.dataDirectory as NSString).appendingPathComponent("partition-\(p).sqlite")
    }

    /// Opens partition p's store. With the changelog on, a store that cannot be opened
    /// (damaged, or from another partition) is moved aside and a new one is restored.
    func openStore(_ p: Int32) throws -> PartitionStore {
        let path = storePath(p)
        do {
            return try PartitionStore(path: path, partition: p, options: storeOptions)
        } catch {
            guard config.changelog else { throw error }
            let aside = try PartitionStore.moveAside(path: path)
            logger.error(
                "store of partition \(p) cannot be opened (\(error)): moved aside to \(aside); rebuilding it from \(config.topics.changelog)")
            return try PartitionStore(path: path, partition: p, options: storeOptions)
        }
    }

    func startRestore(_ lane: PartitionLane) {
        guard let producer else { return }
        let topic = config.topics.changelog
        let p = lane.partition
        let kafka = config.kafkaConfig(bootstrap: bootstrap)
        let worker = config.workerId
        let logger = self.logger
        lane.failure = nil
        lane.restorer = PartitionRestorer(
            partition: p, store: lane.store, writer: worker,
            makeLog: { isCancelled in
                try KafkaChangelogLog(
                    topic: topic, partition: p, kafka: kafka, producer: producer, workerId: worker,
                    isCancelled: isCancelled, logger: logger)
            }, logger: logger)
    }

    /// Inside the rebalance callback, right after the assignment: partitions being
    /// restored fetch no input until their restore is done.
    func pauseInactive(_ tps: [TopicPartition]) {
        let inactive = tps.filter { lanes[$0.partition]?.isActive == false }
        guard !inactive.isEmpty, let consumer else { return }
        do { try consumer.pause(inactive) } catch { logger.error("cannot pause partitions being restored: \(error)") }
    }

    /// Takes the results of finished restores and retries failed ones when due.
    func checkRestores(consumer: KafkaConsumer) throws {
        let now = DispatchTime.now().uptimeNanoseconds
        for lane in ownedLanes {
            let p = lane.partition
            if let f = lane.failure, now >= f.retryAt {
                logger.info("partition \(p): trying its restore again")
                startRestore(lane)
                continue
            }
            guard let r = lane.restorer, let outcome = r.outcome.withLock({ $0 }) else { continue }
            lane.restorer = nil
            switch outcome {
            case .success(let report):
                lane.epoch = report.epoch
                lane.markerPublishedThrough = -1
                let tps = config.topics.inputs.map { TopicPartition($0, p) }
                let starts = tps.map { TopicPartitionOffset($0, offset: lane.store.resumeOffset(topic: $0.topic) ?? TopicPartitionOffset.beginning) }
                let seconds = Double(now - r.startedAt) / 1e9
                logger.info(
                    "partition \(p) restored (\(report.kind.rawValue)): \(report.rowsApplied) changelog rows applied, \(report.entriesRead) read, \(report.compensated) republished, epoch \(report.epoch), in \(String(format: "%.2f", seconds)) s; input resumes at \(starts.map { "\($0.topicPartition.topic)@\($0.offset)" }.joined(separator: ", "))")
                statusBox.withLock { $0.restores.append(WorkerStatus.Restore(partition: p, report: report, seconds: seconds)) }
                try consumer.seek(starts)
                if !paused { try consumer.resume(tps) }
            case .failure(let e as RestoreNeedsRebuild):
                lane.store.close()
                let aside = try PartitionStore.moveAside(path: storePath(p))
                logger.error("partition \(p): \(e); the store was moved aside to \(aside) and is rebuilt from \(config.topics.changelog)")
                lane.store = try PartitionStore(path: storePath(p), partition: p, options: storeOptions)
                startRestore(lane)
            case .failure(let e):
                if e is ChangelogRestore.Cancelled { continue }
                lane.failure = (String(describing: e), now + UInt64(config.restoreRetryMs) * 1_000_000)
                logger.error(
                    "partition \(p) cannot be restored: \(e). Its input stays paused (no record is skipped); retrying in \(config.restoreRetryMs) ms")
            }
        }
    }
}
