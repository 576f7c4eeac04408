/// A changelog partition held in memory, with Kafka's compaction (the latest record of
/// each key survives): for benchmarks, tools and tests of the restore procedure.
public final class InMemoryChangelog: ChangelogLog {
    public private(set) var records: [(offset: Int64, entry: ChangelogEntry)] = []
    public private(set) var next: Int64 = 0
    /// The first offset still held (raise it to simulate retention).
    public var low: Int64 = 0
    /// The `from` offset of every read, in order (tests check what a restore read).
    public private(set) var reads: [Int64] = []
    /// Entries per chunk handed to a reader.
    public var chunk = 1_000

    public init() {}

    public func bounds() throws -> (low: Int64, high: Int64) { (low, next) }

    public func read(from: Int64, until: Int64, _ body: ([(offset: Int64, entry: ChangelogEntry)]) throws -> Bool) throws {
        reads.append(from)
        let start = max(from, low)
        var i = firstIndex(count: records.count) { records[$0].offset >= start }
        while i < records.count, records[i].offset < until {
            var end = i
            while end < records.count, end - i < chunk, records[end].offset < until { end += 1 }
            let slice = Array(records[i..<end])
            i = end
            if try !body(slice) { return }
        }
    }

    public func append(_ entry: ChangelogEntry) throws -> Int64 {
        records.append((next, entry))
        next += 1
        return next - 1
    }

    /// Keeps only the latest record of every key, as log compaction does; `dropTombstones`
    /// also removes deletes (what Kafka does after `delete.retention.ms`).
    public func compact(dropTombstones: Bool = false) {
        var last: [[UInt8]: Int64] = [:]
        for r in records { last[r.entry.encoded.key] = r.offset }
        records = records.filter { r in
            guard last[r.entry.encoded.key] == r.offset else { return false }
            if dropTombstones, case .row(_, nil, _) = r.entry { return false }
            return true
        }
    }

    /// Bytes of keys and values held.
    public var bytes: Int {
        records.reduce(0) { total, r in
            let e = r.entry.encoded
            return total + e.key.count + (e.value?.count ?? 0)
        }
    }
}
