import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

@Suite struct CheckpointerTests {
    static func options() -> StoreOptions {
        var o = StoreOptions()
        o.checkpointStepFrames = 16
        o.walLimitFrames = 64
        return o
    }

    /// Batches of context writes, each a little over `walLimitFrames / 4` WAL frames.
    static func writeBatches(_ f: StoreFixture, _ count: Int, startingAt first: Int = 0, observe: (Int32) -> Void = { _ in }) throws {
        for b in first..<(first + count) {
            let records = (0..<40).map { i in
                f.command(
                    "context.write",
                    [
                        "instance_id": "i1", "name": .string("c\(i)"),
                        "data": ["b": .int(Int64(b)), "pad": .string(String(repeating: "x", count: 300))],
                    ]
                )
            }
            try f.store.apply(records)
            observe(f.store.walSize.frames.load(ordering: .relaxed))
        }
    }

    /// The WAL is checkpointed beside the applying thread and starts over once it reaches
    /// the limit, so it stays bounded; the state is whole afterwards, also after reopening.
    @Test func walStaysBoundedAndStartsOver() throws {
        let f = try StoreFixture(options: Self.options())
        try f.registerDefinition()
        _ = try f.spawn("i1")
        var most: Int32 = 0
        var startedOver = 0
        var last: Int32 = 0
        try Self.writeBatches(f, 60) { frames in
            most = max(most, frames)
            if frames < last { startedOver += 1 }
            last = frames
        }
        #expect(startedOver >= 3)
        #expect(most < 64 + 64)  // the limit plus less than one batch (of about 30 frames)
        #expect((f.store.checkpointer?.passes ?? 0) > 0)
        #expect(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c7")?.currentVersion == 60)
        let dump = try f.store.canonicalDump()
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0, options: Self.options())
        #expect(try f.store.canonicalDump() == dump)
    }

    /// A reader holding an old snapshot keeps the WAL from starting over, but never blocks
    /// the applying thread; once it ends, the WAL starts over again.
    @Test func aLongReaderDelaysTheRestartButNeverBlocksApply() throws {
        let f = try StoreFixture(options: Self.options())
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try Self.writeBatches(f, 4)
        let reader = try SQLiteConnection(path: f.store.path)
        try reader.execute("BEGIN")
        #expect(try reader.rows("SELECT count(*) FROM agent_contexts").first?.first?.int == 40)
        var most: Int32 = 0
        try Self.writeBatches(f, 12, startingAt: 4) { most = max(most, $0) }
        #expect(most > 64 + 64)  // could not start over while the snapshot was held
        try reader.execute("COMMIT")
        reader.close()
        var startedOver = false
        var last: Int32 = .max
        try Self.writeBatches(f, 12, startingAt: 16) { frames in
            if frames < last && last != .max { startedOver = true }
            last = frames
        }
        #expect(startedOver)
        #expect(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c0")?.currentVersion == 28)
    }
}
