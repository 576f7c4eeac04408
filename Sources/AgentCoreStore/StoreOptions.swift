import AgentCoreModel

/// How a partition store behaves. Every field has a production default.
public struct StoreOptions: Sendable, Equatable {
    /// SQLite `synchronous` level: `NORMAL` (default; with WAL a crash loses no committed
    /// batch, a power loss may lose the last ones, which are then re-applied from Kafka) or `FULL`.
    public enum Synchronous: String, Sendable {
        case normal = "NORMAL"
        case full = "FULL"
        case off = "OFF"
    }

    /// Versions kept per context (the seed's `agent_context_history_limit`). Older ones are pruned.
    public var historyLimit = 50
    /// Pruned versions disappear from every read at once; their rows are deleted later, in
    /// insertion order, once this many newer version rows exist (a context's own later
    /// prunes also delete its rows that the sweep has passed). Deleting in insertion order
    /// frees whole pages instead of rewriting one scattered page per prune.
    public var versionSweepLag = 65_536
    /// Instances per workspace that are not offline (the seed's `agent_max_concurrency`).
    public var maxConcurrency = 20
    /// An instance with no heartbeat, spawn or transition for this long in stream time goes offline.
    public var instanceTimeoutMillis: Int64 = 60_000
    /// Command ids remembered per partition for idempotent re-delivery answers.
    public var idempotencyRetention = 100_000
    /// Partition count of the input topics; when set, records whose key hashes (murmur2) to
    /// another partition are dead-lettered `wrong_partition`.
    public var partitionCount: Int32?
    public var synchronous = Synchronous.normal
    /// SQLite page cache per store, in KiB. Workers set it from their budget for all their
    /// stores (`WorkerConfiguration.storeCacheBudgetMiB`) divided by the partitions they own.
    public var cacheSizeKiB = 16_384
    /// SQLite `mmap_size` per store, in bytes (0, the default: off). Mapped pages a store
    /// has touched count as the process's resident memory (and against a container's
    /// memory limit); measured, the map gave the store no speed (docs/benchmarks.md).
    public var mmapSizeBytes: Int64 = 0
    /// Whether `apply` uses a helper thread per batch of 32 records or more (decoding ahead,
    /// rendering results rows behind). Off, a worker uses one core per applying partition;
    /// the results are the same either way.
    public var helperThreads = true
    /// WAL checkpoints run on a thread and connection of their own (see `Checkpointer`):
    /// one is asked for each time the WAL grew by `checkpointStepFrames` pages (4 KiB each)
    /// since the last, and once it holds `walLimitFrames` pages the next batch waits for
    /// one that copies all of it, so that the WAL starts over. Between them they bound the
    /// WAL at about `walLimitFrames` pages plus one batch (64 MiB and a little by default).
    public var checkpointStepFrames: Int32 = 4_096
    public var walLimitFrames: Int32 = 16_384
    public var limits = Limits()
    /// Whether batches note the rows they change for the changelog (`changelog_dirty`).
    /// Workers publishing a changelog need it; off only for benchmarks and tools.
    public var changelog = true

    public init() {}

    /// The settings that change what applying a record produces, as canonical JSON. A
    /// store records the ones it applies with (see `PartitionStore.settingsChange`).
    public var applySettings: String {
        let l = limits
        let fields: [String: JSONValue] = [
            "history_limit": .int(Int64(historyLimit)), "max_concurrency": .int(Int64(maxConcurrency)),
            "instance_timeout_ms": .int(instanceTimeoutMillis), "idempotency_retention": .int(Int64(idempotencyRetention)),
            "partition_count": partitionCount.map { .int(Int64($0)) } ?? .null,
            "max_record_bytes": .int(Int64(l.maxRecordBytes)), "max_context_bytes": .int(Int64(l.maxContextBytes)),
            "max_document_bytes": .int(Int64(l.maxDocumentBytes)), "max_identifier_length": .int(Int64(l.maxIdentifierLength)),
            "max_name_length": .int(Int64(l.maxNameLength)), "max_text_length": .int(Int64(l.maxTextLength)),
            "max_capabilities": .int(Int64(l.maxCapabilities)),
        ]
        return JSONValue.object(fields).canonicalString
    }
}
