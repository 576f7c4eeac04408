import AgentCoreStore
import Foundation
import Testing

@testable import AgentCoreWorker

/// How a lane reads the offsets its records arrive with: no broker.
@Suite struct PartitionLaneTests {
    static func lane() throws -> (PartitionLane, String) {
        let dir = NSTemporaryDirectory() + "lane-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try PartitionStore(path: dir + "/partition-0.sqlite", partition: 0)
        return (PartitionLane(partition: 0, store: store, lifecycle: PartitionLifecycle(baseRetryMs: 1_000)), dir)
    }

    /// A record behind the lane is first taken for one fetched before a seek (fetch again
    /// from the next offset); only a second one before any record follows on says that the
    /// log went back. This is what a resumed worker saw after a takeover: offset 0 of a
    /// partition it had just restored to offset 1109.
    @Test func aRecordBehindTheLaneIsFetchedAgainOnceThenStopsThePartition() throws {
        let (lane, dir) = try Self.lane()
        defer {
            lane.store.close()
            try? FileManager.default.removeItem(atPath: dir)
        }
        #expect(lane.noteOffset(topic: "c", offset: 1109) == .inOrder)
        #expect(lane.noteOffset(topic: "c", offset: 1110) == .inOrder)
        #expect(lane.noteOffset(topic: "c", offset: 0) == .fetchedBeforeSeek(next: 1111))
        // Fetched again and the log follows on: a later stale record is again only refetched.
        #expect(lane.noteOffset(topic: "c", offset: 1111) == .inOrder)
        #expect(lane.noteOffset(topic: "c", offset: 5) == .fetchedBeforeSeek(next: 1112))
        // Fetched again and still behind: the topic went back.
        #expect(lane.noteOffset(topic: "c", offset: 0) == .behindStore(applied: 1111))
        #expect(lane.noteOffset(topic: "c", offset: 0) == .behindStore(applied: 1111))
        // Each topic on its own; a gap also counts as following on.
        #expect(lane.noteOffset(topic: "w", offset: 7) == .inOrder)
        #expect(lane.noteOffset(topic: "w", offset: 2) == .fetchedBeforeSeek(next: 8))
        #expect(lane.noteOffset(topic: "w", offset: 10) == .gap(8...9))
        #expect(lane.noteOffset(topic: "w", offset: 3) == .fetchedBeforeSeek(next: 11))
        #expect(lane.nextOffset(topic: "c") == 1112)
    }
}
