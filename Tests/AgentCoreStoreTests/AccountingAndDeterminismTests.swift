import AgentCoreModel
import Foundation
import Testing

@testable import AgentCoreStore

@Suite struct DeadLetterTests {
    @Test func badInputIsDeadLetteredWithReasonAndOriginalBytes() throws {
        var o = StoreOptions()
        o.partitionCount = 12
        o.limits.maxRecordBytes = 2_000
        let f = try StoreFixture(options: o, partition: Murmur2.partition(forKey: "ws1", partitionCount: 12))
        let good = CommandEnvelope(
            id: "ok",
            type: "definition.register",
            workspaceId: "ws1",
            projectId: nil,
            actor: "a",
            payload: ["slug": "s", "name": "n", "agent_type": "t"]
        )
        let otherWs = (0..<100).map { "ws-\($0)" }.first { Murmur2.partition(forKey: $0, partitionCount: 12) != f.store.partition }!
        let wrongPart = CommandEnvelope(
            id: "wp",
            type: "definition.register",
            workspaceId: otherWs,
            projectId: nil,
            actor: "a",
            payload: [:]
        )
        let cases: [(InputRecord, DeadLetterReason)] = [
            (f.record(nil, key: "ws1", stream: .commands), .nullValue),
            (f.record(Array("not json".utf8), key: "ws1", stream: .commands), .invalidJSON),
            (f.record(Array("[1]".utf8), key: "ws1", stream: .commands), .invalidEnvelope),
            (f.record(Array(#"{"schema":"agentcore.command/v9"}"#.utf8), key: "ws1", stream: .commands), .unsupportedSchema),
            (f.record(good.bytes, key: "ws2", stream: .commands), .keyMismatch),
            (f.record(good.bytes, key: nil, stream: .commands), .keyMismatch),
            (f.record(wrongPart.bytes, key: otherWs, stream: .commands), .wrongPartition),
            (f.record([UInt8](repeating: 0x20, count: 3_000), key: "ws1", stream: .commands), .recordTooLarge),
        ]
        let records = cases.map(\.0) + [f.record(good.bytes, key: "ws1", stream: .commands)]
        let summary = try f.store.apply(records)
        #expect(summary.deadLettered == cases.count)
        #expect(summary.applied == 1)
        let out = try f.store.outbox()
        let dlq = out.filter { $0.topic == .dlq }
        #expect(dlq.count == cases.count)
        for (row, (record, reason)) in zip(dlq, cases) {
            let v = try JSONParser.parse(row.value)
            #expect(v["reason"]?.stringValue == reason.rawValue)
            #expect(v["source"]?["offset"] == .int(record.offset))
            #expect(row.eventId == Event.id(topic: record.topic, partition: record.partition, offset: record.offset, index: 0))
        }
        #expect(out.last?.topic == .status)
    }

    @Test func everyOffsetIsAccountedFor() throws {
        let f = try StoreFixture()
        var records: [InputRecord] = []
        var gen = SplitMix64(seed: 7)
        for i in 0..<300 {
            switch gen.next() % 4 {
            case 0: records.append(f.record(Array("garbage \(i)".utf8), key: "ws1", stream: .commands))
            case 1: records.append(f.command("instance.transition", ["instance_id": "nobody", "to": "active"]))
            case 2: records.append(f.command("context.write", ["instance_id": "nobody", "name": "c", "data": 1]))
            default: records.append(f.command("definition.register", ["slug": .string("d\(i)"), "name": "n", "agent_type": "t"]))
            }
        }
        let summary = try f.store.apply(records)
        #expect(summary.applied + summary.rejected + summary.deadLettered == records.count)
        let ids = Set(
            try f.store.outbox().map { row -> String in
                let parts = row.eventId.split(separator: "/")
                return parts[0] + "/" + parts[2]
            }
        )
        #expect(ids.count == records.count)
        // Re-delivering the same batch changes nothing.
        let again = try f.store.apply(records)
        #expect(again.skipped == records.count)
    }
}

@Suite struct DeterminismTests {
    /// A random but seeded mix of every command type, valid and invalid.
    static func workload(_ f: StoreFixture, seed: UInt64, count: Int) -> [InputRecord] {
        var g = SplitMix64(seed: seed)
        var out = [f.command("definition.register", ["slug": "builder", "name": "B", "agent_type": "t"], workspace: "ws0", project: nil)]
        let statuses = InstanceStatus.allCases.map(\.rawValue)
        for i in 0..<count {
            let ws = "ws\(g.next() % 3)"
            let inst = "i\(g.next() % 5)"
            let r = g.next() % 9
            f.clock += Int64(g.next() % 5_000)
            switch r {
            case 0: out.append(f.command("instance.spawn", ["definition": "builder", "name": "n", "instance_id": .string(inst)], workspace: ws))
            case 1:
                out.append(
                    f.command("instance.transition", ["instance_id": .string(inst), "to": .string(statuses[Int(g.next() % 6)])], workspace: ws)
                )
            case 2: out.append(f.command("instance.heartbeat", ["instance_id": .string(inst), "state": ["n": .int(Int64(i))]], workspace: ws))
            case 3: out.append(f.command("instance.configure", ["instance_id": .string(inst), "config": ["k": .int(Int64(i))]], workspace: ws))
            case 4 where g.next() % 4 == 0: out.append(f.command("instance.remove", ["instance_id": .string(inst)], workspace: ws))
            case 4 where out.count > 1:
                // A re-delivery of a recent command: answered again, not applied twice.
                let prev = out[out.count - 1 - Int(g.next() % UInt64(min(out.count - 1, 20)))]
                out.append(f.record(prev.value, key: prev.key.map { String(decoding: $0, as: UTF8.self) }, stream: prev.stream))
            case 5:
                out.append(
                    f.command(
                        "context.rollback",
                        ["instance_id": .string(inst), "name": "c", "target_version": .int(Int64(1 + g.next() % 8))],
                        workspace: ws
                    )
                )
            case 6: out.append(f.record(Array("junk".utf8), key: ws, stream: .contextWrites))
            case 7 where g.next() % 3 == 0:
                out.append(
                    f.command(
                        "agent.message",
                        ["from_instance_id": .string("i\(g.next() % 5)"), "to_instance_id": .string(inst), "body": ["i": .int(Int64(i))]],
                        workspace: ws
                    )
                )
            default:
                out.append(
                    f.command(
                        "context.write",
                        [
                            "instance_id": .string(inst), "name": "c",
                            "data": ["i": .int(Int64(i)), "s": .string(String(repeating: "x", count: Int(g.next() % 50)))],
                            "mode": g.next() % 2 == 0 ? "replace" : "merge_patch",
                        ],
                        workspace: ws
                    )
                )
            }
        }
        return out
    }

    @Test func sameRecordsGiveIdenticalStoresAndEvents() throws {
        var o = StoreOptions()
        o.historyLimit = 4
        o.instanceTimeoutMillis = 20_000
        // The sweep of pruned rows changes only the file, never what a read or a dump sees:
        // one store sweeps almost at once, the other never within this workload.
        var sweepsEarly = o
        sweepsEarly.versionSweepLag = 8
        let a = try StoreFixture(options: sweepsEarly)
        let b = try StoreFixture(options: o)
        var noHelpers = o
        noHelpers.helperThreads = false
        let c = try StoreFixture(options: noHelpers)
        let recordsA = Self.workload(a, seed: 42, count: 2_000)
        let recordsB = Self.workload(b, seed: 42, count: 2_000)
        #expect(recordsA == recordsB)
        #expect(Self.workload(c, seed: 42, count: 2_000) == recordsA)
        // Different batchings of the same records: batches of 333 decode and serialise on
        // helper threads (`DecodeAhead`, `ResultRenderer`), batches of 7 in line.
        #expect(7 < DecodeAhead.minimumBatch)
        for chunk in stride(from: 0, to: recordsA.count, by: 7) { try a.store.apply(Array(recordsA[chunk..<min(chunk + 7, recordsA.count)])) }
        for chunk in stride(from: 0, to: recordsB.count, by: 333) {
            try b.store.apply(Array(recordsB[chunk..<min(chunk + 333, recordsB.count)]))
            try c.store.apply(Array(recordsB[chunk..<min(chunk + 333, recordsB.count)]))  // the same, without helpers
        }
        #expect(try a.store.canonicalDump() == b.store.canonicalDump())
        #expect(try c.store.canonicalDump() == b.store.canonicalDump())
        let outA = try a.store.outbox(limit: 1_000_000)
        let outB = try b.store.outbox(limit: 1_000_000)
        #expect(outA.map(\.eventId) == outB.map(\.eventId))
        #expect(outA.map(\.value) == outB.map(\.value))
        #expect(try c.store.outbox(limit: 1_000_000) == outB)
        // Re-deliveries were answered with the first answer's events (same ids, same bytes).
        #expect(Set(outA.map(\.eventId)).count < outA.count)
        let types = Set(try outA.filter { $0.topic != .dlq }.map { try Event(bytes: $0.value).type })
        #expect(types.isSuperset(of: [.instanceSpawned, .instanceStatusChanged, .contextVersionCreated, .commandRejected]))
        #expect(types.contains(.instanceRemoved))
        // Referential integrity holds through writes, rollbacks, prunes, sweeps and
        // instance removals.
        for f in [a, b, c] {
            #expect(try f.store.db.rows("PRAGMA foreign_key_check").isEmpty)
            let orphans = try f.store.db.rows(
                "SELECT count(*) FROM agent_context_versions v WHERE NOT EXISTS (SELECT 1 FROM agent_contexts c WHERE c.cid = v.cid)"
            )
            #expect(orphans.first?.first?.int == 0)
            // The count of pruned rows not yet deleted, which lets the sweep skip its scan,
            // is exact (in memory and as recorded).
            let pruned = try f.store.db.rows(
                "SELECT count(*) FROM agent_context_versions v JOIN agent_context_heads h ON h.cid = v.cid WHERE v.version < h.oldest_version"
            ).first?.first?.int
            #expect(f.store.prunedPending == pruned)
            #expect(try f.store.db.rows("SELECT value FROM store_meta WHERE key='versions_pruned_pending'").first?.first?.int == pruned)
            #expect(try f.store.db.rows("SELECT count(*) FROM agent_context_versions").first?.first?.int ?? 0 > 0)
        }
    }

    @Test func failedBatchLeavesNoTrace() throws {
        let f = try StoreFixture()
        let records = Self.workload(f, seed: 3, count: 200)
        try f.store.apply(Array(records[0..<100]))
        let dump = try f.store.canonicalDump()
        let outbox = try f.store.outbox()
        let offsets = f.store.appliedOffsets
        struct Boom: Error {}
        f.store.beforeRecord = { r in if r == records[150] { throw Boom() } }
        #expect(throws: Boom.self) { try f.store.apply(Array(records[100...])) }
        // The failed batch (100 records) ran its helper threads; they ended with it.
        #expect(records.count - 100 >= DecodeAhead.minimumBatch)
        let deadline = Date().addingTimeInterval(5)
        while f.store.lastRenderer != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(f.store.lastRenderer == nil)
        #expect(try f.store.canonicalDump() == dump)
        #expect(try f.store.outbox() == outbox)
        #expect(f.store.appliedOffsets == offsets)
        // Reopen from disk: still at the batch boundary.
        let path = f.store.path
        f.store.close()
        f.store = try PartitionStore(path: path, partition: 0)
        #expect(f.store.appliedOffsets == offsets)
        #expect(try f.store.canonicalDump() == dump)
        // And the rest applies as if nothing happened.
        let reference = try StoreFixture()
        let same = Self.workload(reference, seed: 3, count: 200)
        try reference.store.apply(same)
        try f.store.apply(Array(records[100...]))
        #expect(try f.store.canonicalDump() == reference.store.canonicalDump())
    }
}
