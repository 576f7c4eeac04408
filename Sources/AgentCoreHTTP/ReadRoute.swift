import AgentCoreModel
import AgentCoreWorker

/// Where a read of one workspace goes: a pure decision from the worker's partition states,
/// the cluster view and whether the request was forwarded already.
enum ReadRoute: Equatable {
    /// Read this worker's store of the partition.
    case local(partition: Int32)
    /// Forward to the owner (once: a forwarded request is never forwarded again).
    case forward(partition: Int32, to: String)
    /// 503 with `Retry-After`.
    case unavailable(partition: Int32?, reason: String, retryAfter: Int)

    static func decide(
        workspace: String,
        partitionCount: Int,
        states: [Int32: WorkerStatus.PartitionState],
        forwarded: Bool,
        owner: (Int32) -> String?
    ) -> ReadRoute {
        guard partitionCount > 0 else {
            return .unavailable(partition: nil, reason: "the worker has not read the topics yet", retryAfter: 2)
        }
        let p = Murmur2.partition(forKey: workspace, partitionCount: Int32(partitionCount))
        switch states[p] {
        case .active:
            return .local(partition: p)
        case .restoring:
            return .unavailable(partition: p, reason: "partition \(p) is being restored here", retryAfter: 5)
        case .failed:
            return .unavailable(partition: p, reason: "partition \(p) is out of service here (see /readyz)", retryAfter: 10)
        case nil:
            if !forwarded, let url = owner(p) { return .forward(partition: p, to: url) }
            return .unavailable(
                partition: p,
                reason: forwarded
                    ? "partition \(p) is no longer owned here (it moved; ask again)"
                    : "partition \(p) is not owned here and its owner is not known yet",
                retryAfter: 2
            )
        }
    }
}
