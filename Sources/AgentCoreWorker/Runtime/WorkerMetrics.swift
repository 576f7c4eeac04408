import AgentCoreStore
import CoreMetrics
import Foundation

/// The worker's metrics through swift-metrics, on the factory the worker was given (the
/// HTTP server's Prometheus registry, or nothing). Names and labels are listed in
/// docs/http-api.md; the Grafana dashboard in deploy/grafana uses them.
///
/// Counters are made once per label set and kept; everything here runs on the worker's
/// loop thread except `factory` use by swift-metrics itself, which is thread safe.
final class WorkerMetrics: @unchecked Sendable {
    let factory: any MetricsFactory
    private var counters: [String: Counter] = [:]
    private var gauges: [String: Gauge] = [:]
    private var timers: [String: CoreMetrics.Timer] = [:]
    /// Label sets of gauges set at the last refresh, so that a partition's gauges drop to
    /// zero when it leaves rather than keep their last value.
    private var partitionGauges: Set<String> = []

    init(factory: any MetricsFactory) { self.factory = factory }

    private func key(_ label: String, _ dims: [(String, String)]) -> String {
        dims.reduce(label) { $0 + "|" + $1.0 + "=" + $1.1 }
    }

    /// The metric of `label` and `dims` in `cache`, made on first use.
    private func cached<M>(_ cache: inout [String: M], _ label: String, _ dims: [(String, String)], _ make: () -> M) -> M {
        let k = key(label, dims)
        if let m = cache[k] { return m }
        let m = make()
        cache[k] = m
        return m
    }

    func counter(_ label: String, _ dims: [(String, String)] = []) -> Counter {
        cached(&counters, label, dims) { Counter(label: label, dimensions: dims, factory: factory) }
    }

    func gauge(_ label: String, _ dims: [(String, String)] = []) -> Gauge {
        cached(&gauges, label, dims) { Gauge(label: label, dimensions: dims, factory: factory) }
    }

    func timer(_ label: String, _ dims: [(String, String)] = []) -> CoreMetrics.Timer {
        cached(&timers, label, dims) { CoreMetrics.Timer(label: label, dimensions: dims, factory: factory) }
    }

    /// One partition's applied batch.
    func recordBatch(partition: Int32, summary: ApplySummary, nanos: UInt64) {
        let p = String(partition)
        for (type, n) in summary.byType { counter("agentcore_records_applied_total", [("partition", p), ("type", type)]).increment(by: n) }
        for (code, n) in summary.rejectedByCode {
            counter("agentcore_commands_rejected_total", [("partition", p), ("code", code)]).increment(by: n)
        }
        for (reason, n) in summary.deadLettersByReason {
            counter("agentcore_dead_letters_total", [("partition", p), ("reason", reason)]).increment(by: n)
        }
        timer("agentcore_batch_apply_seconds", [("partition", p)]).recordNanoseconds(Int64(nanos))
    }

    func recordPublishRound(events: Int, nanos: UInt64) {
        timer("agentcore_publish_round_seconds").recordNanoseconds(Int64(nanos))
        if events > 0 { counter("agentcore_events_published_total").increment(by: events) }
    }

    /// A changelog unit queued: its row records (rows, results blocks, tombstones) and
    /// bytes (keys and values), and its marker.
    func recordChangelogUnit(partition: Int32, records: Int, bytes: Int) {
        let p = String(partition)
        counter("agentcore_changelog_records_total", [("partition", p)]).increment(by: records + 1)
        counter("agentcore_changelog_bytes_total", [("partition", p)]).increment(by: bytes)
    }

    /// Input fetches restarted after librdkafka parked them on a full queue (`WorkerEngine.wakeStalledFetch`).
    func recordRefetch(partitions: Int) { counter("agentcore_input_refetches_total").increment(by: partitions) }

    func recordRebalance(_ kind: String) { counter("agentcore_rebalances_total", [("kind", kind)]).increment() }

    /// Gauges from a status snapshot (every heartbeat interval).
    func refresh(_ status: WorkerStatus, topics: [String]) {
        var seen: Set<String> = []
        func set(_ label: String, _ dims: [(String, String)], _ value: Int64) {
            gauge(label, dims).record(value)
            seen.insert(key(label, dims))
        }
        for p in status.partitions {
            let ps = String(p.partition)
            set("agentcore_outbox_depth", [("partition", ps)], Int64(p.outboxDepth))
            set("agentcore_store_bytes", [("partition", ps)], p.storeBytes)
            for t in topics {
                let next = (p.appliedOffsets[t] ?? -1) + 1
                let lag = p.endOffsets[t].map { max(0, $0 - next) } ?? 0
                set("agentcore_consumer_lag", [("partition", ps), ("topic", t)], lag)
            }
        }
        for (p, progress) in status.restoring {
            set("agentcore_restore_rows", [("partition", String(p))], Int64(progress.applied))
            set("agentcore_restore_target_rows", [("partition", String(p))], Int64(progress.target))
        }
        // Partitions that left: their gauges go to zero (Prometheus keeps a series until
        // the process restarts; zero reads as "nothing here").
        for k in partitionGauges.subtracting(seen) { gauges[k]?.record(0) }
        partitionGauges = seen
        gauge("agentcore_partitions", [("state", "active")]).record(status.partitions.count)
        gauge("agentcore_partitions", [("state", "restoring")]).record(status.restoring.count)
        gauge("agentcore_partitions", [("state", "failed")]).record(status.failed.count)
        gauge("agentcore_consumer_paused").record(status.paused ? 1 : 0)
    }
}
