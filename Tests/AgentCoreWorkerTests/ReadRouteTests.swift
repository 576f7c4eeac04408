import AgentCoreModel
import Testing

@testable import AgentCoreHTTP
@testable import AgentCoreWorker

/// Where a workspace read goes, without a cluster.
@Suite struct ReadRouteTests {
    let ws = "acme"
    var p: Int32 { Murmur2.partition(forKey: ws, partitionCount: 4) }

    func decide(_ states: [Int32: WorkerStatus.PartitionState], forwarded: Bool = false, owner: String? = nil, count: Int = 4) -> ReadRoute {
        ReadRoute.decide(workspace: ws, partitionCount: count, states: states, forwarded: forwarded) { _ in owner }
    }

    @Test func ownedActivePartitionsAreReadHere() {
        #expect(decide([p: .active]) == .local(partition: p))
        #expect(decide([p: .active], forwarded: true, owner: "http://x") == .local(partition: p))
    }

    @Test func restoringAndFailedPartitionsAnswer503WithRetryAfter() {
        guard case .unavailable(let part, _, let after) = decide([p: .restoring], owner: "http://other") else {
            Issue.record("restoring partition not unavailable")
            return
        }
        #expect(part == p)
        #expect(after > 0)
        guard case .unavailable(_, let reason, _) = decide([p: .failed]) else {
            Issue.record("failed partition not unavailable")
            return
        }
        #expect(reason.contains("out of service"))
    }

    @Test func otherPartitionsGoToTheirOwnerOnce() {
        #expect(decide([:], owner: "http://owner:8080") == .forward(partition: p, to: "http://owner:8080"))
        // Already forwarded (the owner moved meanwhile): no second hop.
        guard case .unavailable(_, let reason, _) = decide([:], forwarded: true, owner: "http://owner:8080") else {
            Issue.record("a forwarded request was forwarded again")
            return
        }
        #expect(reason.contains("no longer owned"))
        guard case .unavailable = decide([:]) else {
            Issue.record("no owner known, yet not unavailable")
            return
        }
    }

    @Test func beforeTheTopicsAreReadNothingIsRouted() {
        guard case .unavailable(nil, _, _) = decide([:], owner: "http://x", count: 0) else {
            Issue.record("routed without a partition count")
            return
        }
    }
}
