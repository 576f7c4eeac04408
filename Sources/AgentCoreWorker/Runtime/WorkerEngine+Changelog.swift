import AgentCoreKafka
import AgentCoreStore
import Foundation

/// A changelog unit sent in a publishing round: the `changelog_dirty` batches it covers,
/// the epoch it was written under, the `published_through` its marker carries, and (once
/// acknowledged) the marker's offset.
struct ChangelogUnit: Sendable {
    var through: Int64
    var epoch: Int64
    var publishedThrough: Int64
    var rows: Int
    var markerOffset: Int64?
}

extension PartitionLane {
    /// Changes not yet in the changelog, or an acknowledgement its last marker does not carry.
    func changelogDue() throws -> Bool {
        try store.changelogDirtyThrough() > 0 || store.publishedThrough != markerPublishedThrough
    }
}

extension WorkerEngine {
    /// Produces the lane's changed rows (their current images) and then a marker with the
    /// store's position, to the lane's changelog partition, in this round.
    func publishChangelog(_ lane: PartitionLane, round: PublishRound, producer: KafkaProducer) throws {
        let topic = config.topics.changelog
        let p = lane.partition
        lane.lastChangelogNanos = DispatchTime.now().uptimeNanoseconds
        let header = [KafkaHeader(ChangelogEntry.epochHeader, Array(String(lane.epoch).utf8))]
        var bytes = 0
        let (through, rows, position) = try lane.store.forEachChangelogRecord { key, value in
            bytes += key.count + (value?.count ?? 0)
            do throws(KafkaError) {
                try producer.produce(topic: topic, partition: p, key: key, value: value, headers: header, group: round.deliveries)
            } catch {
                round.fail(error)
            }
        }
        round.changelog.withLock {
            $0[p] = ChangelogUnit(through: through, epoch: lane.epoch, publishedThrough: position.publishedThrough, rows: rows)
        }
        // A row that could not even be queued: no marker, or it would vouch for a unit
        // that is not whole. The round fails and the unit is sent again.
        guard round.failures == 0 else { return }
        let marker = ChangelogEntry.marker(epoch: lane.epoch, writer: config.workerId, position: position).encoded
        metrics.recordChangelogUnit(partition: p, records: rows, bytes: bytes + marker.key.count + (marker.value?.count ?? 0))
        do throws(KafkaError) {
            try producer.produce(topic: topic, partition: p, key: marker.key, value: marker.value) { r in
                switch r {
                case .success(let d): round.changelog.withLock { $0[p]?.markerOffset = d.offset }
                case .failure(let e): round.fail(e)
                }
            }
        } catch {
            round.fail(error)
        }
    }

    /// After a round without failures: the results it sent are published and the changelog
    /// holds the units it sent; one transaction per partition records both.
    func acknowledge(_ round: PublishRound, consumer: KafkaConsumer) {
        let units = round.changelog.withLock { $0 }
        for p in Set(round.results.keys).union(units.keys).sorted() {
            guard let lane = lanes[p], lane.isActive else { continue }
            // The lane must still write under the unit's epoch (and its results rows be in
            // the store and epoch they were read under, `ResultsSent`): a round that outlived
            // a failure or a reassignment (it was awaited later) belongs to an older claim.
            var unit = units[p]
            if let u = unit, lane.epoch != u.epoch || u.markerOffset == nil { unit = nil }
            do {
                // With the changelog, results alone are acknowledged in memory: the marker
                // that follows within the changelog interval (or the next batch) writes them.
                try lane.store.acknowledge(
                    outboxThrough: round.results[p]?.through(in: lane),
                    changelog: unit.map { ($0.through, $0.epoch, $0.markerOffset!) },
                    persist: !config.changelog
                )
                if let unit { lane.markerPublishedThrough = unit.publishedThrough }
            } catch {
                failLane(lane, error, consumer: consumer)
            }
        }
    }
}
