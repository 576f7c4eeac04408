import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

@Suite struct MigrationTests {
    /// Replaces the fixture's store by one written by the first `schema` migration steps,
    /// holding a workspace, project, definition and instance plus `rows`, then opens it
    /// with the current code (which migrates it).
    static func reopen(_ f: StoreFixture, fromSchema schema: Int, rows: String) throws {
        let path = f.store.path
        f.store.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let old = try SQLiteConnection(path: path)
        try old.execute("PRAGMA journal_mode=WAL")
        for step in Migrations.steps.prefix(schema) { try old.execute(step) }
        try old.execute("PRAGMA user_version = \(schema)")
        try old.execute(
            """
            INSERT INTO store_meta VALUES('partition', 0);
            INSERT INTO workspaces VALUES('ws1', 0);
            INSERT INTO projects VALUES('ws1', 'p1', 0);
            INSERT INTO agent_definitions VALUES('builder', 'def_1', 'B', 'code', NULL, '[]', '{}', '{}', 1, 1, 0, 0);
            INSERT INTO agent_instances VALUES('ws1', 'p1', 'i1', 'def_1', 'builder', 'i1', 'idle', '{}', NULL, NULL, NULL, 0, 0, 0, 0);
            """ + rows
        )
        old.close()
        f.store = try PartitionStore(path: path, partition: 0)
    }

    /// A store written by the first schema (context heads inside `agent_contexts`) opens
    /// under the current one with its contexts, versions and heads intact, and goes on.
    @Test func storeFromSchemaOneIsMigrated() throws {
        let f = try StoreFixture()
        try Self.reopen(
            f,
            fromSchema: 1,
            rows: """
                INSERT INTO agent_contexts VALUES(1, 'ctx_old', 'ws1', 'p1', 'i1', 'plan', 3, 2, NULL, NULL, 10, 20);
                INSERT INTO agent_context_versions VALUES(1, 2, '{"a":2}', NULL, 'me', 7, 'replace', 15);
                INSERT INTO agent_context_versions VALUES(1, 3, '{"a":3}', NULL, 'me', 7, 'replace', 20);
                """
        )
        #expect(try f.store.db.userVersion() == Migrations.steps.count)
        let info = try #require(try f.store.context(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan"))
        #expect(info.id == "ctx_old")
        #expect(info.currentVersion == 3)
        #expect(info.oldestVersion == 2)
        #expect(try f.store.read(workspace: "ws1", project: "p1", instanceId: "i1", name: "plan", version: 2)?.data == ["a": 2])
        let next = try f.send("context.write", ["instance_id": "i1", "name": "plan", "data": ["a": 4]])
        #expect(next[0].payload["version"] == .int(4))
        #expect(next[0].payload["parent_version"] == .int(3))
        #expect(try f.store.canonicalDump().contains("\"ctx_old\"\t\"ws1\"\t\"p1\"\t\"i1\"\t\"plan\"\t4\t2\tnull\tnull\t10\t"))
    }
}

extension MigrationTests {
    /// The context lines of a canonical dump: id → updated_ms (the line's last field).
    static func updatedTimes(_ store: PartitionStore) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try store.canonicalDump().split(separator: "\n") where line.hasPrefix("\"context\"") {
            let fields = line.split(separator: "\t")
            out[String(fields[1])] = String(fields.last!)
        }
        return out
    }

    /// Step 4 moves `updated_ms` out of the head rows: a store written by schema 3 keeps
    /// every context's updated time, whether its last change was a version or a failed
    /// rollback, and later changes move it as before.
    @Test func storeFromSchemaThreeKeepsUpdatedTimes() throws {
        let f = try StoreFixture()
        try Self.reopen(
            f,
            fromSchema: 3,
            rows: """
                INSERT INTO agent_contexts VALUES(1, 'ctx_plain', 'ws1', 'p1', 'i1', 'plain', NULL, NULL, 10);
                INSERT INTO agent_context_heads VALUES(1, 2, 2, 25);
                INSERT INTO agent_context_versions VALUES(1, 1, '{"a":1}', NULL, 'me', 7, 'replace', 10);
                INSERT INTO agent_context_versions VALUES(1, 2, '{"a":2}', NULL, 'me', 7, 'replace', 25);
                INSERT INTO agent_contexts VALUES(2, 'ctx_failed', 'ws1', 'p1', 'i1', 'failed', 9, 'failed', 10);
                INSERT INTO agent_context_heads VALUES(2, 1, 1, 40);
                INSERT INTO agent_context_versions VALUES(2, 1, '{"b":1}', NULL, 'me', 7, 'replace', 30);
                """
        )
        #expect(try f.store.db.userVersion() == Migrations.steps.count)
        #expect(try Self.updatedTimes(f.store) == ["\"ctx_plain\"": "25", "\"ctx_failed\"": "40"])
        // The pruned row (version 1 of ctx_plain) is counted by the first batch, not on open.
        #expect(f.store.prunedPending == -1)
        // A new version moves the time on; so does a later failed rollback.
        try f.send("context.write", ["instance_id": "i1", "name": "failed", "data": ["b": 2]])
        let written = f.clock
        try f.send("context.rollback", ["instance_id": "i1", "name": "plain", "target_version": 7])
        let failed = f.clock
        #expect(try Self.updatedTimes(f.store) == ["\"ctx_plain\"": "\(failed)", "\"ctx_failed\"": "\(written)"])
        #expect(f.store.prunedPending == 1)
        #expect(try f.store.db.rows("SELECT value FROM store_meta WHERE key='versions_pruned_pending'").first?.first?.int == 1)
        #expect(
            try f.store.db.rows("SELECT count(*) FROM pragma_table_info('agent_context_heads') WHERE name='updated_ms'")
                .first?.first?.int == 0
        )
    }
}

@Suite struct SettingsRecordTests {
    /// The settings that shape answers are recorded by the first batch; reopening with
    /// other settings is noted once, and a reader never records its defaults.
    @Test func aChangeOfApplySettingsIsNotedOnce() throws {
        var o = StoreOptions()
        o.historyLimit = 7
        let f = try StoreFixture(options: o)
        try f.registerDefinition()
        #expect(f.store.takeSettingsChange() == nil)
        let path = f.store.path
        // A reader with default options (as `agentcore inspect` opens stores) records nothing.
        let reader = try PartitionStore(path: path, partition: 0)
        _ = try reader.contexts(workspace: "ws1", project: "p1")
        reader.close()
        f.store.close()
        var changed = o
        changed.historyLimit = 9
        f.store = try PartitionStore(path: path, partition: 0, options: changed)
        _ = try f.spawn("i1")
        let change = try #require(f.store.takeSettingsChange())
        #expect(change.from.contains("\"history_limit\":7"))
        #expect(change.to.contains("\"history_limit\":9"))
        #expect(f.store.takeSettingsChange() == nil)
        _ = try f.spawn("i2")
        #expect(f.store.takeSettingsChange() == nil)
    }
}

@Suite struct SchemaVersionTests {
    /// The current steps record the results format, and a store from a newer agentcore
    /// (a higher schema step) is refused with a clear error instead of being misread.
    /// Two connections opening a new store at once (a worker creating it while `inspect`
    /// or a reader opens it): each step runs once, neither fails.
    @Test func concurrentOpensMigrateOnce() throws {
        for round in 0..<20 {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-mig-\(UUID().uuidString).sqlite").path
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            final class Errors: @unchecked Sendable {
                let lock = NSLock()
                var list: [String] = []
                func add(_ e: String) { lock.withLock { list.append(e) } }
                var all: [String] { lock.withLock { list } }
            }
            let errors = Errors()
            let group = DispatchGroup()
            for _ in 0..<2 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        let s = try PartitionStore(path: path, partition: 0)
                        s.close()
                    } catch {
                        errors.add("\(error)")
                    }
                }.start()
            }
            group.wait()
            #expect(errors.all.isEmpty, "round \(round): \(errors.all)")
        }
    }

    @Test func newerStoreIsRefusedAndFormatIsRecorded() throws {
        let f = try StoreFixture()
        #expect(try f.store.db.rows("SELECT value FROM store_meta WHERE key='results_format'").first?.first?.text == "lz4-dictionary-v1")
        try f.store.db.execute("PRAGMA user_version = \(Migrations.steps.count + 1)")
        let path = f.store.path
        f.store.close()
        #expect {
            _ = try PartitionStore(path: path, partition: 0)
        } throws: { error in
            (error as? SQLiteError)?.message.contains("is newer than this agentcore") == true
        }
        f.store = try PartitionStore(path: path + "-fresh", partition: 0)  // the fixture's deinit closes this one
    }
}
