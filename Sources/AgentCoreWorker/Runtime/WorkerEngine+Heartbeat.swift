import AgentCoreKafka
import AgentCoreModel
import Foundation

extension WorkerEngine {
    static let version = "0.1.0"

    /// Publishes `agentcore.worker-heartbeat/v1` every interval and refreshes `status`.
    func heartbeatIfDue(producer: KafkaProducer, consumer: KafkaConsumer, now: UInt64) throws {
        guard now &- lastHeartbeatNanos >= UInt64(config.heartbeatIntervalMs) * 1_000_000, !stalledPastSession else { return }
        let snapshot = try snapshotPartitions(consumer: consumer)
        let applied = statusBox.withLock { $0.applied + $0.rejected + $0.deadLettered }
        let rate = lastHeartbeatNanos == 0 ? 0 : Double(applied - lastHeartbeatApplied) / (Double(now &- lastHeartbeatNanos) / 1e9)
        lastHeartbeatNanos = now
        lastHeartbeatApplied = applied
        var restoring: [Int32: WorkerStatus.RestoreProgress] = [:]
        var failed: [Int32: String] = [:]
        for lane in ownedLanes {
            if let r = lane.restorer {
                let (applied, target) = r.progress.withLock { $0 }
                restoring[lane.partition] = .init(applied: applied, target: target)
            }
            if let f = lane.failure { failed[lane.partition] = f.reason }
        }
        let status = statusBox.withLock {
            $0.partitions = snapshot
            $0.recordsPerSecond = rate
            $0.restoring = restoring
            $0.failed = failed
            return $0
        }
        metrics.refresh(status, topics: config.topics.inputs)
        let wallMillis = Int64(Date().timeIntervalSince1970 * 1000)
        var fields: [String: JSONValue] = [
            "schema": "agentcore.worker-heartbeat/v1", "worker_id": .string(config.workerId), "version": .string(Self.version),
            "at": .string(Timestamp.iso8601(millis: wallMillis)), "uptime_ms": .int(Int64((now &- startedAtNanos) / 1_000_000)),
            "records_per_second": .double((rate * 10).rounded() / 10),
            "partitions": .array(
                snapshot.map { p in
                    .object([
                        "partition": .int(Int64(p.partition)),
                        "applied_offsets": .object(p.appliedOffsets.mapValues { .int($0) }),
                        "end_offsets": .object(p.endOffsets.mapValues { .int($0) }), "lag": .int(p.lag),
                        "store_bytes": .int(p.storeBytes), "state": "active",
                    ])
                }
                    + restoring.keys.sorted().map { p in
                        .object([
                            "partition": .int(Int64(p)), "state": "restoring",
                            "restored_rows": .int(Int64(restoring[p]!.applied)), "restore_target_rows": .int(Int64(restoring[p]!.target)),
                        ])
                    }
                    + failed.keys.sorted().map { p in
                        .object(["partition": .int(Int64(p)), "state": "failed", "error": .string(failed[p]!)])
                    }
            ),
            "partition_count": .int(Int64(storeOptions.partitionCount ?? 0)),
        ]
        if let url = httpURL.withLock({ $0 }) { fields["http_url"] = .string(url) }
        if let standby { fields["standbys"] = .array(standby.wanted.sorted().map { .int(Int64($0)) }) }
        let body = JSONValue.object(fields)
        try producer.produce(
            topic: config.topics.heartbeats,
            key: Array(config.workerId.utf8),
            value: body.canonicalBytes
        ) { [logger] r in
            if case .failure(let e) = r { logger.debug("heartbeat not delivered: \(e)") }
        }
    }

    func snapshotPartitions(consumer: KafkaConsumer) throws -> [WorkerStatus.Partition] {
        try activeLanes.map { lane in
            var applied: [String: Int64] = [:]
            var ends: [String: Int64] = [:]
            var lag: Int64 = 0
            for t in config.topics.inputs {
                let next = lane.store.resumeOffset(topic: t)
                if let next { applied[t] = next - 1 }
                if let w = consumer.cachedWatermarks(TopicPartition(t, lane.partition)) {
                    ends[t] = w.high
                    lag += max(0, w.high - (next ?? w.low))
                }
            }
            return WorkerStatus.Partition(
                partition: lane.partition,
                appliedOffsets: applied,
                endOffsets: ends,
                lag: lag,
                storeBytes: lane.store.sizeOnDisk(),
                outboxDepth: try lane.store.outboxDepth()
            )
        }
    }
}
