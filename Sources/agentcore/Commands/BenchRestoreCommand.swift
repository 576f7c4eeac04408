import AgentCoreClient
import AgentCoreModel
import AgentCoreStore
import ArgumentParser
import Foundation

/// Records for one store of the benchmarks: workspace `bench`, 100 instances, contexts
/// spread over them, offsets and timestamps counting up.
struct BenchFeed {
    let commands = Commands(workspace: "bench", project: "p", actor: "bench")
    let instances = 100
    private var offset: Int64 = -1
    private var clock: Int64 = 1_767_225_600_000
    private var seq = 0

    mutating func record(_ e: CommandEnvelope) -> InputRecord {
        offset += 1
        clock += 1
        let stream = CommandType(rawValue: e.type)!.stream
        return InputRecord(
            stream: stream,
            topic: "agentcore.\(stream.rawValue)",
            partition: 0,
            offset: offset,
            timestampMillis: clock,
            key: Array("bench".utf8),
            value: e.bytes
        )
    }

    mutating func write(context c: Int, bytes: Int) -> InputRecord {
        seq += 1
        return record(BenchCommand.write(commands, instance: "i\(c % instances)", context: "c\(c)", bytes: bytes, seq: seq))
    }

    /// The definition, the instances and one write per context, applied and acknowledged.
    mutating func setUp(_ store: PartitionStore, contexts: Int, bytes: Int, batch: Int) throws {
        var setup = [record(commands.registerDefinition(slug: "bench", name: "Bench", agentType: "bench"))]
        for i in 0..<instances { setup.append(record(commands.spawn(definition: "bench", name: "i\(i)", instanceId: "i\(i)"))) }
        try store.apply(setup)
        var create: [InputRecord] = []
        for c in 0..<contexts {
            create.append(write(context: c, bytes: bytes))
            if create.count == batch {
                try store.apply(create)
                create.removeAll()
            }
        }
        try store.apply(create)
        try store.acknowledgeOutbox(through: Int64.max)
    }

    /// `count` writes to contexts drawn at random (seeded), in batches.
    mutating func randomWrites(_ count: Int, contexts: Int, bytes: Int, batch: Int) -> [[InputRecord]] {
        var rng = SplitMix64(seed: 1)
        var out: [[InputRecord]] = []
        var current: [InputRecord] = []
        for _ in 0..<count {
            current.append(write(context: Int(rng.next() % UInt64(contexts)), bytes: bytes))
            if current.count == batch {
                out.append(current)
                current.removeAll()
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}

extension BenchCommand {
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A store's changelog: its size compacted against the store's, and restore into an empty store (changelog records/s).",
            discussion:
                "The changelog is held in memory (librdkafka's mock broker keeps only ~5 MiB per partition), so the restore figure is SQLite's side of a restore."
        )
        @Option(help: "Distinct contexts.") var contexts = 100_000
        @Option(help: "Writes after each context's first (random contexts).") var writes = 100_000
        @Option(help: "Bytes of data per write.") var bytes = 400
        @Option(help: "History limit (versions kept per context).") var historyLimit = 50
        @Option(help: "Records per apply while building the store.") var batch = 1_000
        @Option(help: "Directory for the store files.") var dir = "."
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let source = (dir as NSString).appendingPathComponent("bench-restore-src-\(getpid()).sqlite")
            let target = (dir as NSString).appendingPathComponent("bench-restore-dst-\(getpid()).sqlite")
            defer {
                for p in [source, target] { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: p + s) } }
            }
            var options = StoreOptions()
            options.historyLimit = historyLimit
            options.maxConcurrency = 1_000
            let store = try PartitionStore(path: source, partition: 0, options: options)
            defer { store.close() }
            var feed = BenchFeed()
            try feed.setUp(store, contexts: contexts, bytes: bytes, batch: batch)
            let log = InMemoryChangelog()
            // The writer claims the partition (a store with state and an empty changelog is
            // published whole) and publishes as a worker does: one unit per batch applied.
            let epoch = try ChangelogRestore(writer: "bench").run(store: store, log: log).epoch
            func publish() throws {
                let (through, _, position) = try store.forEachChangelogRecord { key, value in
                    _ = try log.append(.row(key: key, value: value, epoch: epoch))
                }
                let at = try log.append(.marker(epoch: epoch, writer: "bench", position: position))
                try store.acknowledgeChangelog(through: through, epoch: epoch, offset: at)
            }
            try publish()
            var published = 0.0
            for b in feed.randomWrites(writes, contexts: contexts, bytes: bytes, batch: batch) {
                try store.apply(b)
                try store.acknowledgeOutbox(through: Int64.max)
                let t = DispatchTime.now().uptimeNanoseconds
                try publish()
                published += Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9
            }
            let written = log.records.count
            let historyBytes = log.bytes
            log.compact(dropTombstones: true)
            let compactedBytes = log.bytes
            let storeBytes = store.sizeOnDisk()
            let rows = log.records.filter { if case .row = $0.entry { return true } else { return false } }.count

            let restored = try PartitionStore(path: target, partition: 0, options: options)
            defer { restored.close() }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let report = try ChangelogRestore(writer: "bench").run(store: restored, log: log)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let same = try restored.canonicalDump() == store.canonicalDump()
            // What checking a store after an unclean stop costs (PRAGMA quick_check).
            let q0 = DispatchTime.now().uptimeNanoseconds
            try store.quickCheck()
            let checkSeconds = Double(DispatchTime.now().uptimeNanoseconds - q0) / 1e9
            let rate = Double(report.rowsApplied) / seconds
            if json {
                print(
                    #"{"bench":"restore","contexts":\#(contexts),"writes":\#(contexts + writes),"bytes":\#(bytes),"history_limit":\#(historyLimit),"changelog_records":\#(written),"changelog_bytes":\#(historyBytes),"compacted_records":\#(log.records.count),"compacted_bytes":\#(compactedBytes),"store_bytes":\#(storeBytes),"rows_restored":\#(report.rowsApplied),"restore_seconds":\#(String(format: "%.2f", seconds)),"rows_per_second":\#(Int(rate)),"publish_rows_per_second":\#(Int(Double(written) / max(published, 1e-9))),"quick_check_seconds":\#(String(format: "%.2f", checkSeconds)),"identical":\#(same)}"#
                )
            } else {
                print(
                    "changelog of \(contexts + writes) writes over \(contexts) contexts (history \(historyLimit), \(bytes) B): \(written) records, \(historyBytes / 1_048_576) MiB written; compacted \(log.records.count) records (\(rows) rows), \(compactedBytes / 1_048_576) MiB; store on disk \(storeBytes / 1_048_576) MiB"
                )
                print("publishing (reading row images): \(Int(Double(written) / max(published, 1e-9))) records/s")
                print("quick_check of the store (\(storeBytes / 1_048_576) MiB): \(String(format: "%.2f", checkSeconds)) s")
                print(
                    "restore into an empty store: \(report.rowsApplied) changelog records (a results block holds up to 32 results rows) in \(String(format: "%.2f", seconds)) s = \(Int(rate)) records/s; identical dump: \(same)"
                )
            }
            if !same { throw CLIError("the restored store differs from the original") }
        }
    }
}
