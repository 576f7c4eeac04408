import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation

/// One owned partition: its store and the records fetched from its two input streams but
/// not yet applied. Used only on the worker's loop thread.
final class PartitionLane {
    let partition: Int32
    /// The partition's store (replaced when a damaged store is set aside and rebuilt).
    var store: PartitionStore
    /// Set while the store is being restored from the changelog: the restore thread owns
    /// the store, and the partition's input is paused.
    var restorer: PartitionRestorer?
    /// Active, restoring or failed (with the retry time and the failures in a row).
    var lifecycle: PartitionLifecycle
    /// Why the partition is out of service, and when (uptime nanoseconds) to try again.
    var failure: (reason: String, retryAt: UInt64)? { lifecycle.failure }
    /// The store was closed (set aside) and a new one could not be opened yet.
    var storeClosed = false
    /// The epoch this worker writes the partition's changelog under (from its claim).
    var epoch: Int64 = 0
    /// This worker's claim, recorded in the group with every offset commit of the
    /// partition (`GroupClaim`); nil until the restore claimed.
    var groupClaim: GroupClaim?
    /// `published_through` carried by the last changelog marker published (-1: none yet).
    var markerPublishedThrough: Int64 = -1
    /// When the lane last published a changelog unit (uptime nanoseconds; 0: never).
    var lastChangelogNanos: UInt64 = 0
    /// Applying input: not restoring, not failed.
    var isActive: Bool { lifecycle.isActive }
    /// Per stream (indexed by `CommandStream.rank`): records fetched, and how many of them
    /// were taken from the front. Arrays, not dictionaries keyed by stream: every record
    /// looks them up several times.
    private var queues: [[(record: InputRecord, arrived: UInt64)]] = [[], []]
    private var heads = [0, 0]
    /// Records applied since the lane opened.
    var appliedCount = 0

    init(partition: Int32, store: PartitionStore, lifecycle: PartitionLifecycle) {
        self.partition = partition
        self.store = store
        self.lifecycle = lifecycle
    }

    /// Last offset seen per input topic (starts at the store's applied offset).
    private var lastSeen: [String: Int64] = [:]

    /// What a record's offset says about the log.
    enum OffsetNote: Equatable {
        case inOrder
        /// Offsets jumped past records never applied (deleted by retention first).
        case gap(ClosedRange<Int64>)
        /// The first offset at or below what was applied or seen since the lane last moved
        /// forward: most likely a record fetched before the lane's input was positioned
        /// (a seek after a restore does not recall records already handed over). The topic
        /// should be fetched again from `next`; the record is not applied.
        case fetchedBeforeSeek(next: Int64)
        /// An offset at or below what the store applied, again after the lane was fetched
        /// anew from `applied + 1`: the topic was recreated or the store belongs to another
        /// cluster.
        case behindStore(applied: Int64)
    }

    /// Topics fetched again after a record behind the lane (see `OffsetNote.fetchedBeforeSeek`),
    /// until a record follows on.
    private var refetched: Set<String> = []

    /// Records `offset` as seen and says whether it follows on from what came before.
    func noteOffset(topic: String, offset: Int64) -> OffsetNote {
        let seen = lastSeen[topic]
        let last = seen ?? store.resumeOffset(topic: topic).map { $0 - 1 }
        lastSeen[topic] = max(offset, last ?? offset)
        guard let last else { return .inOrder }
        // At or below what was applied or already seen. Once, it is taken for a record
        // fetched before a seek and the topic is fetched again; if the log still starts
        // below the lane after that, the topic went backwards (a recreated topic, a
        // replaced cluster; our own seeks never rewind a lane).
        if offset <= last {
            return refetched.insert(topic).inserted ? .fetchedBeforeSeek(next: last + 1) : .behindStore(applied: last)
        }
        refetched.remove(topic)
        if offset > last + 1 { return .gap((last + 1)...(offset - 1)) }
        return .inOrder
    }

    /// Starts `topic` over at `offset` (an operator accepted input that went backwards).
    func restartSeen(topic: String, at offset: Int64) {
        lastSeen[topic] = offset
    }

    /// The next offset of `topic` this lane expects (everything before it was fetched), or
    /// nil when nothing was fetched or applied yet.
    func nextOffset(topic: String) -> Int64? {
        lastSeen[topic].map { $0 + 1 } ?? store.resumeOffset(topic: topic)
    }

    var buffered: Int { queues[0].count - heads[0] + queues[1].count - heads[1] }

    func enqueue(_ record: InputRecord, now: UInt64) {
        queues[record.stream.rank].append((record, now))
    }

    /// What ordering needs of a stream's next record, read in place (copying the record
    /// itself retains and releases each of its buffers).
    private func head(_ s: CommandStream) -> (timestampMillis: Int64, offset: Int64, arrived: UInt64)? {
        let h = heads[s.rank]
        return queues[s.rank].withUnsafeBufferPointer { q in
            h < q.count ? (q[h].record.timestampMillis, q[h].record.offset, q[h].arrived) : nil
        }
    }

    private func pop(_ s: CommandStream) -> InputRecord {
        let r = queues[s.rank][heads[s.rank]].record
        heads[s.rank] += 1
        return r
    }

    /// Drops the records taken from the queues' fronts, so that their buffers are freed
    /// now rather than after thousands more (once per `takeReady`: what stays behind is
    /// what waits for the other stream, usually nothing).
    private func compact() {
        for i in 0..<2 where heads[i] > 0 {
            queues[i].removeFirst(heads[i])
            heads[i] = 0
        }
    }

    /// Takes records in apply order: the two streams merged by (timestamp, stream rank,
    /// offset). A record whose other stream has nothing buffered is taken only when that
    /// stream is caught up (`otherCaughtUp`) or it has waited `maxWaitNanos`.
    func takeReady(max: Int, now: UInt64, maxWaitNanos: UInt64, caughtUp: (CommandStream) -> Bool) -> [InputRecord] {
        var out: [InputRecord] = []
        defer { compact() }
        while out.count < max {
            let c = head(.commands)
            let w = head(.contextWrites)
            switch (c, w) {
            case (nil, nil):
                return out
            case (let c?, let w?):
                let takeCommands = (c.timestampMillis, 0, c.offset) <= (w.timestampMillis, 1, w.offset)
                out.append(pop(takeCommands ? .commands : .contextWrites))
            case (let c?, nil):
                guard caughtUp(.contextWrites) || now &- c.arrived >= maxWaitNanos else { return out }
                out.append(pop(.commands))
            case (nil, let w?):
                guard caughtUp(.commands) || now &- w.arrived >= maxWaitNanos else { return out }
                out.append(pop(.contextWrites))
            }
        }
        return out
    }
}
