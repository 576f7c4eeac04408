import AgentCoreStore
import Foundation

/// A snapshot of a worker for heartbeats, `agentcore dev` and tests.
public struct WorkerStatus: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        public var partition: Int32
        public var appliedOffsets: [String: Int64]
        public var endOffsets: [String: Int64]
        public var lag: Int64
        public var storeBytes: Int64
        public var outboxDepth: Int
    }

    /// What an owned partition is doing.
    public enum PartitionState: String, Sendable, Equatable {
        case active, restoring, failed
    }

    public var workerId: String
    /// Active partitions' figures, refreshed every heartbeat interval.
    public var partitions: [Partition] = []
    /// Every owned partition's state, refreshed every loop step.
    public var states: [Int32: PartitionState] = [:]
    /// The worker has been given its first assignment (possibly empty) by the group.
    public var joinedGroup = false
    /// Partitions of the input topics (0 until the worker read them).
    public var partitionCount = 0
    public var applied = 0
    public var rejected = 0
    public var deadLettered = 0
    /// Records at or below their store's applied offset, not applied again (re-delivered
    /// input; after a restore, zero: input resumes after the restored offsets).
    public var skipped = 0
    public var published = 0
    public var recordsPerSecond = 0.0
    public var paused = false
    /// Most recent published records, newest last, at most 20 (kept raw: summarised only
    /// when someone reads `recentEvents`, not on every publishing round).
    public var recentOutputs: [OutboxRecord] = []
    /// Most recent published events as short lines (type, scope, subject), newest last.
    public var recentEvents: [String] { recentOutputs.map(WorkerEngine.summary) }
    /// Partitions being restored from the changelog: (applied, target) rows.
    public var restoring: [Int32: RestoreProgress] = [:]
    /// Partitions out of service, with the reason.
    public var failed: [Int32: String] = [:]
    /// Times a partition went out of service since the worker started.
    public var partitionFailures = 0
    /// Restores finished since the worker started (the last 100).
    public var restores: [Restore] = []

    public struct RestoreProgress: Sendable, Equatable {
        public var applied: Int
        public var target: Int
    }

    public struct Restore: Sendable, Equatable {
        public var partition: Int32
        public var report: RestoreReport
        public var seconds: Double
    }
}
