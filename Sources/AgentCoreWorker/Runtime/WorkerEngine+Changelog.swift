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
        let header = [KafkaHeader(ChangelogEntry.epochHeader, Array(String(lane.epoch).utf8))]
        let (through, rows, position) = try lane.store.forEachChangelogRecord { key, value in
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

    /// After a round without failures: the changelog holds the units it sent.
    func acknowledgeChangelog(_ round: PublishRound, consumer: KafkaConsumer) {
        for (p, unit) in round.changelog.withLock({ $0 }) {
            // The lane must still write under the unit's epoch: a round that outlived a
            // failure or a reassignment (it was awaited later) belongs to an older claim.
            guard let lane = lanes[p], lane.isActive, lane.epoch == unit.epoch, let offset = unit.markerOffset else {
                continue
            }
            do {
                try lane.store.acknowledgeChangelog(through: unit.through, epoch: unit.epoch, offset: offset)
                lane.markerPublishedThrough = unit.publishedThrough
            } catch {
                failLane(lane, error, consumer: consumer)
            }
        }
    }
}
