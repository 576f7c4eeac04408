import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct ContextTests {
    func fixture(_ options: StoreOptions = StoreOptions()) throws -> StoreFixture {
        let f = try StoreFixture(options: options)
        try f.registerDefinition()
        _ = try f.spawn("i1")
        return f
    }

    @Test func writesAppendVersionsAndReadAtAnyVersion() throws {
        let f = try fixture()
        let first = try f.send("context.write", ["instance_id": "i1", "name": "plan", "data": ["step": 1], "description": "start"])
        #expect(first.types == ["context.created", "context.version_created"])
        #expect(first[1].payload["version"] == .int(1))
        #expect(first[1].payload["parent_version"] == .null)
        #expect(first[1].payload["created_by"] == "tester")
        let second = try f.send("context.write", ["instance_id": "i1", "name": "plan", "data": ["step": 2]])
        #expect(second.types == ["context.version_created"])
        #expect(second[0].payload["parent_version"] == .int(1))
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan", version: 1)?.data == ["step": 1])
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan")?.data == ["step": 2])
        let page = try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan", limit: 1)
        #expect(page.map(\.version) == [2])
        let next = try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan", before: 2, limit: 5)
        #expect(next.map(\.version) == [1])
        #expect(next[0].description == "start")
    }

    @Test func mergePatchAndExpectedVersion() throws {
        let f = try fixture()
        try f.send("context.write", ["instance_id": "i1", "name": "c", "data": ["a": 1, "b": ["x": 1, "y": 2]]])
        let patched = try f.send(
            "context.write",
            ["instance_id": "i1", "name": "c", "data": ["b": ["y": .null, "z": 3], "a": .null], "mode": "merge_patch", "expected_version": 1]
        )
        #expect(patched[0].payload["mode"] == "merge_patch")
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")?.data == ["b": ["x": 1, "z": 3]])
        let conflict = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1, "expected_version": 1])
        #expect(conflict.rejection == "version_conflict")
        #expect(try f.send("context.write", ["instance_id": "i1", "name": "new", "data": 1, "expected_version": 0]).count == 2)
    }

    @Test func writeToUnknownInstanceLeavesNoContext() throws {
        let f = try fixture()
        #expect(try f.send("context.write", ["instance_id": "ghost", "name": "c", "data": 1]).rejection == "not_found")
        #expect(try f.store.contexts(workspace: "ws1", project: "p1").isEmpty)
    }

    @Test func rollbackAppendsNewVersionAndFailsOnPrunedVersion() throws {
        var o = StoreOptions()
        o.historyLimit = 3
        let f = try fixture(o)
        for i in 1...3 { try f.send("context.write", ["instance_id": "i1", "name": "c", "data": .int(Int64(i))]) }
        let rb = try f.send("context.rollback", ["instance_id": "i1", "name": "c", "target_version": 1])
        #expect(rb.types == ["context.version_created", "context.versions_pruned", "context.rolled_back"])
        #expect(rb[0].payload["version"] == .int(4))
        #expect(rb[0].payload["mode"] == "rollback")
        #expect(rb[1].payload["pruned_from"] == .int(1))
        #expect(rb[1].payload["pruned_to"] == .int(1))
        #expect(rb[2].payload["new_version"] == .int(4))
        #expect(rb[2].payload["rollback_state"] == "success")
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")?.data == .int(1))
        let info = try #require(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c"))
        #expect(info.rollbackPointer == 1)
        #expect(info.rollbackState == .success)
        #expect(info.oldestVersion == 2)
        // Version 1 is pruned now: the rollback fails, is recorded, and is rejected.
        let failed = try f.send("context.rollback", ["instance_id": "i1", "name": "c", "target_version": 1])
        #expect(failed.types == ["context.rolled_back", "command.rejected"])
        #expect(failed[0].payload["rollback_state"] == "failed")
        #expect(failed.rejection == "rollback_failed")
        let after = try #require(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c"))
        #expect(after.rollbackState == .failed)
        #expect(after.currentVersion == 4)
        #expect(try f.send("context.rollback", ["instance_id": "i1", "name": "c", "target_version": 99]).rejection == "rollback_failed")
        // Numbers are never reused: the next write is 5.
        #expect(try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 5])[0].payload["version"] == .int(5))
    }

    @Test func prunedVersionsAreHiddenAtOnceAndSweptLater() throws {
        var o = StoreOptions()
        o.historyLimit = 3
        o.versionSweepLag = 10
        let f = try fixture(o)
        func rows() throws -> [Int64] {
            try f.store.db.rows("SELECT version FROM agent_context_versions ORDER BY rowid").map { $0[0].int! }
        }
        for i in 1...8 { try f.send("context.write", ["instance_id": "i1", "name": "c", "data": .int(Int64(i))]) }
        // Versions 1...5 are pruned but their rows are within the sweep lag: still on disk,
        // invisible to every read.
        #expect(try rows() == Array(1...8))
        #expect(try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "c").map(\.version) == [8, 7, 6])
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "c", version: 5) == nil)
        #expect(try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "c", before: 6, limit: 10).isEmpty)
        #expect(try f.store.canonicalDump().split(separator: "\n").filter { $0.hasPrefix("\"version\"") }.count == 3)
        #expect(try f.send("context.rollback", ["instance_id": "i1", "name": "c", "target_version": 5]).rejection == "rollback_failed")
        // Once more than `versionSweepLag` newer rows exist, the sweep deletes the pruned rows
        // below them and keeps the retained ones.
        for i in 9...30 { try f.send("context.write", ["instance_id": "i1", "name": "c", "data": .int(Int64(i))]) }
        let left = try rows()
        #expect(left.count <= 10 + 3)
        #expect(left.suffix(3) == [28, 29, 30])
        // A context written rarely: its rows are retained when the sweep passes them; once
        // pruned, its own catch-up delete removes them (every 16th prune).
        for i in 1...3 { try f.send("context.write", ["instance_id": "i1", "name": "rare", "data": .int(Int64(i))]) }
        for i in 31...60 { try f.send("context.write", ["instance_id": "i1", "name": "c", "data": .int(Int64(i))]) }
        let rare = try f.store.db.rows(
            "SELECT v.version FROM agent_context_versions v JOIN agent_contexts c ON c.cid = v.cid WHERE c.name = 'rare' ORDER BY v.version"
        ).map { $0[0].int! }
        #expect(rare == [1, 2, 3])
        #expect(f.store.sweptThrough > 0)
        for i in 4...19 { try f.send("context.write", ["instance_id": "i1", "name": "rare", "data": .int(Int64(i))]) }
        // Version 19 prunes through 16, a multiple of 16: versions 1...3 (behind the sweep) go.
        let rareAfter = try f.store.db.rows(
            "SELECT min(v.version) FROM agent_context_versions v JOIN agent_contexts c ON c.cid = v.cid WHERE c.name = 'rare'"
        ).first![0].int!
        #expect(rareAfter > 3)
        #expect(try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "rare").map(\.version) == [19, 18, 17])
    }

    @Test func historyLimitNeverPrunesCurrent() throws {
        var o = StoreOptions()
        o.historyLimit = 1
        let f = try fixture(o)
        for i in 1...4 { try f.send("context.write", ["instance_id": "i1", "name": "c", "data": .int(Int64(i))]) }
        let v = try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")
        #expect(v.map(\.version) == [4])
    }

    @Test func contextDataLimit() throws {
        var o = StoreOptions()
        o.limits.maxContextBytes = 100
        let f = try fixture(o)
        let big = JSONValue.string(String(repeating: "x", count: 200))
        let ev = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": big])
        #expect(ev.rejection == "limit_exceeded")
        #expect(ev[0].payload["field"] == "payload.data")
    }

    @Test func contextCommandOnCommandsTopicIsWrongTopic() throws {
        let f = try fixture()
        let env = CommandEnvelope(
            id: "x",
            type: "context.write",
            workspaceId: "ws1",
            projectId: "p1",
            actor: "a",
            payload: ["instance_id": "i1", "name": "c", "data": 1]
        )
        let ev = try f.apply(f.record(env.bytes, key: "ws1", stream: .commands))
        #expect(ev.rejection == "wrong_topic")
    }
}

@Suite struct IsolationTests {
    @Test func anotherWorkspaceOrProjectSeesNotFound() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.send("context.write", ["instance_id": "i1", "name": "secret", "data": "s"])
        #expect(try f.send("context.write", ["instance_id": "i1", "name": "secret", "data": "x"], workspace: "ws2").rejection == "not_found")
        #expect(try f.send("instance.transition", ["instance_id": "i1", "to": "error"], project: "p2").rejection == "not_found")
        #expect(
            try f.send("context.rollback", ["instance_id": "i1", "name": "secret", "target_version": 1], workspace: "ws2").rejection == "not_found"
        )
        #expect(try f.store.instance(workspace: "ws2", project: "p1", id: "i1") == nil)
        #expect(try f.store.read(workspace: "ws1", project: "p2", instanceId: "i1", name: "secret") == nil)
        // The same instance id may exist in another workspace independently.
        #expect(try f.spawn("i1", workspace: "ws2").types == ["instance.spawned"])
    }

    @Test func repeatedCommandIdIsAnsweredAgainWithoutReapplying() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        let first = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1], id: "dup")
        let again = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1], id: "dup")
        #expect(first == again)
        #expect(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")?.currentVersion == 1)
        // The same id from another workspace is a different command.
        _ = try f.spawn("i1", workspace: "ws2")
        let other = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1], workspace: "ws2", id: "dup")
        #expect(other.types == ["context.created", "context.version_created"])
    }

    /// Command ids are remembered for `idempotencyRetention` records: within it a repeat is
    /// answered again, past it the command is applied anew, and a command remembered a
    /// second time is not forgotten with its first entry, also after the store reopens.
    @Test func idempotencyRetentionForgetsOnlyExpiredEntries() throws {
        var o = StoreOptions()
        o.idempotencyRetention = 20
        let f = try StoreFixture(options: o)
        try f.registerDefinition()
        _ = try f.spawn("i1")
        func write(_ id: String) throws -> [Event] {
            try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1], id: id)
        }
        func version() throws -> Int64? {
            try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")?.currentVersion
        }
        let first = try write("x")
        for i in 0..<10 { _ = try write("a\(i)") }
        #expect(try write("x") == first)  // within the retention: the first answer again
        #expect(try version() == 11)
        for i in 0..<25 { _ = try write("b\(i)") }
        let second = try write("x")  // past it: applied anew
        #expect(second != first)
        #expect(try version() == 37)
        // The first entry of "x" expires next; the second must stay, in memory and when the
        // index is rebuilt from the table.
        for i in 0..<12 { _ = try write("c\(i)") }
        #expect(try write("x") == second)
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0, options: o)
        #expect(try write("x") == second)
        #expect(try version() == 49)
    }
}
