import AgentCoreModel
import Testing

@testable import AgentCoreStore

@Suite struct DefinitionTests {
    @Test func registerUpdateDisable() throws {
        let f = try StoreFixture()
        let reg = try f.send("definition.register", ["slug": "builder", "name": "Builder", "agent_type": "code"])
        #expect(reg.types == ["definition.registered"])
        #expect(reg[0].payload["revision"] == .int(1))
        #expect(reg[0].payload["enabled"] == .bool(true))
        let again = try f.send("definition.register", ["slug": "builder", "name": "B", "agent_type": "code"])
        #expect(again.rejection == "already_exists")
        let upd = try f.send("definition.update", ["slug": "builder", "capabilities": ["a", "b"]])
        #expect(upd.types == ["definition.updated"])
        #expect(upd[0].payload["capabilities"] == ["a", "b"])
        #expect(upd[0].payload["name"] == "Builder")
        #expect(upd[0].payload["revision"] == .int(2))
        #expect(try f.send("definition.update", ["slug": "nope", "name": "x"]).rejection == "not_found")
        let dis = try f.send("definition.disable", ["slug": "builder"])
        #expect(dis[0].payload["enabled"] == .bool(false))
        #expect(try f.spawn("i1").rejection == "definition_disabled")
    }

    @Test func malformedSchemaIsRejected() throws {
        let f = try StoreFixture()
        let ev = try f.send(
            "definition.register",
            ["slug": "x", "name": "X", "agent_type": "t", "config_schema": ["type": "bogus"]]
        )
        #expect(ev.rejection == "schema_invalid")
        #expect(ev[0].payload["field"] == "payload.config_schema.type")
    }

    @Test func replicaCopiesApplySilently() throws {
        let f = try StoreFixture()
        let env = CommandEnvelope(
            id: "d1",
            type: "definition.register",
            workspaceId: "ws9",
            projectId: nil,
            actor: "a",
            payload: ["slug": "builder", "name": "B", "agent_type": "t"]
        )
        let rec = f.record(
            env.bytes,
            key: "ws9",
            stream: .commands,
            headers: [RecordHeader(key: "agentcore-replica", value: Array("1".utf8))]
        )
        #expect(try f.apply(rec).isEmpty)
        #expect(try f.spawn("i1").types == ["instance.spawned"])
    }
}

@Suite struct InstanceTests {
    @Test func spawnStartsIdleAndActivatePassesThroughInitializing() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        let spawned = try f.spawn("i1")
        #expect(spawned.types == ["instance.spawned"])
        #expect(spawned[0].payload["status"] == "idle")
        let act = try f.send("instance.transition", ["instance_id": "i1", "to": "active"])
        #expect(act.types == ["instance.status_changed", "instance.status_changed"])
        #expect(act[0].payload["to"] == "initializing")
        #expect(act[1].payload["from"] == "initializing")
        #expect(act[1].payload["to"] == "active")
        // A second activation after idle does not initialise again.
        try f.send("instance.transition", ["instance_id": "i1", "to": "idle"])
        let again = try f.send("instance.transition", ["instance_id": "i1", "to": "active"])
        #expect(again.count == 1)
    }

    /// A refused command that created its project's rows has them undone by its savepoint:
    /// the store must not remember the project as existing (the next command into it would
    /// then skip creating it and fail its foreign key), while other projects stay known.
    @Test func aRefusedCommandForgetsTheProjectItCreated() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        #expect(try f.spawn("i1", project: "p1").types == ["instance.spawned"])
        let refused = try f.send(
            "instance.spawn",
            ["definition": "missing", "name": "x", "instance_id": "x"],
            project: "p2"
        )
        #expect(refused.rejection == "not_found")
        #expect(try f.spawn("i2", project: "p2").types == ["instance.spawned"])
        #expect(try f.spawn("i3", project: "p1").types == ["instance.spawned"])
        let projects = try f.store.db.rows("SELECT id FROM projects ORDER BY id").map { $0[0].text }
        #expect(projects == ["p1", "p2"])
    }

    @Test func illegalTransitionIsRejectedAndErrorIsKept() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        #expect(try f.send("instance.transition", ["instance_id": "i1", "to": "busy"]).rejection == "invalid_transition")
        #expect(try f.send("instance.transition", ["instance_id": "i1", "to": "idle"]).rejection == "invalid_transition")
        let err = try f.send("instance.transition", ["instance_id": "i1", "to": "error", "error": "boom"])
        #expect(err[0].payload["error"] == "boom")
        let info = try #require(try f.store.instance(workspace: "ws1", project: "p1", id: "i1"))
        #expect(info.status == .error)
        #expect(info.lastError == "boom")
        #expect(try f.send("instance.transition", ["instance_id": "i1", "to": "wat"]).rejection == "invalid_payload")
    }

    /// The documented transition table, written out independently of `allowedTargets`, and
    /// checked through the store: every allowed pair is applied, every other one refused.
    @Test func everyTransitionInTheTableIsHonoured() throws {
        let table: [InstanceStatus: Set<InstanceStatus>] = [
            .idle: [.initializing, .active, .error, .offline],
            .initializing: [.idle, .active, .error, .offline],
            .active: [.idle, .busy, .error, .offline],
            .busy: [.idle, .active, .error, .offline],
            .error: [.idle, .initializing, .offline],
            .offline: [.idle, .initializing, .error],
        ]
        // Paths from idle to each status, using only allowed steps.
        let route: [InstanceStatus: [InstanceStatus]] = [
            .idle: [], .initializing: [.initializing], .active: [.active], .busy: [.active, .busy],
            .error: [.error], .offline: [.offline],
        ]
        let f = try StoreFixture()
        try f.registerDefinition()
        var n = 0
        for from in InstanceStatus.allCases {
            for to in InstanceStatus.allCases {
                n += 1
                let id = "t\(n)"
                _ = try f.spawn(id)
                for step in route[from]! {
                    let ev = try f.send("instance.transition", ["instance_id": .string(id), "to": .string(step.rawValue)])
                    try #require(ev.rejection == nil, "route to \(from)")
                }
                let ev = try f.send("instance.transition", ["instance_id": .string(id), "to": .string(to.rawValue)])
                let allowed = table[from]!.contains(to)
                #expect((ev.rejection == nil) == allowed, "\(from) → \(to)")
                if !allowed { #expect(ev.rejection == "invalid_transition") }
                #expect(from.canTransition(to: to) == allowed)
                try f.send("instance.remove", ["instance_id": .string(id)])
            }
        }
    }

    @Test func configureMergesAndValidatesAgainstSchema() throws {
        let f = try StoreFixture()
        try f.registerDefinition(
            schema: [
                "type": "object", "properties": ["retries": ["type": "integer", "minimum": 0, "maximum": 5], "mode": ["enum": ["a", "b"]]],
                "required": ["mode"], "additionalProperties": false,
            ])
        #expect(try f.spawn("bad", config: ["retries": 1]).rejection == "config_invalid")
        let bad = try f.spawn("bad", config: ["mode": "a", "retries": 9])
        #expect(bad[0].payload["field"] == "payload.config.retries")
        #expect(try f.spawn("i1", config: ["mode": "a"]).types == ["instance.spawned"])
        let conf = try f.send("instance.configure", ["instance_id": "i1", "config": ["retries": 3]])
        #expect(conf[0].payload["config"] == ["mode": "a", "retries": 3])
        let extra = try f.send("instance.configure", ["instance_id": "i1", "config": ["other": true]])
        #expect(extra.rejection == "config_invalid")
        #expect(extra[0].payload["field"] == "payload.config.other")
        #expect(try f.store.instance(workspace: "ws1", project: "p1", id: "i1")?.config == ["mode": "a", "retries": 3])
    }

    @Test func heartbeatUpdatesAndLivenessSweepsInStreamTime() throws {
        var o = StoreOptions()
        o.instanceTimeoutMillis = 10_000
        let f = try StoreFixture(options: o)
        try f.registerDefinition()
        _ = try f.spawn("i1")
        _ = try f.spawn("i2")
        let hb = try f.send("instance.heartbeat", ["instance_id": "i1", "state": ["step": 3]])
        #expect(hb.types == ["instance.heartbeat"])
        #expect(try f.store.outbox().last?.topic == .heartbeats)
        f.clock += 9_000
        #expect(try f.send("instance.heartbeat", ["instance_id": "i1"]).types == ["instance.heartbeat"])
        f.clock += 2_000
        // i2 (last sign of life at spawn) is now 11 s old; i1 heartbeated 2 s ago.
        let ev = try f.send("instance.heartbeat", ["instance_id": "i1"])
        #expect(ev.types == ["instance.heartbeat", "instance.status_changed"])
        #expect(ev[1].payload["instance_id"] == "i2")
        #expect(ev[1].payload["reason"] == "liveness_timeout")
        #expect(ev[1].commandId == nil)
        #expect(try f.store.instance(workspace: "ws1", project: "p1", id: "i2")?.status == .offline)
        let i1 = try #require(try f.store.instance(workspace: "ws1", project: "p1", id: "i1"))
        #expect(i1.state == ["step": 3])
        #expect(i1.lastHeartbeatMillis == f.clock)
    }

    @Test func concurrencyLimitPerWorkspace() throws {
        var o = StoreOptions()
        o.maxConcurrency = 2
        let f = try StoreFixture(options: o)
        try f.registerDefinition()
        _ = try f.spawn("i1")
        _ = try f.spawn("i2", project: "p2")
        #expect(try f.spawn("i3").rejection == "quota_exceeded")
        #expect(try f.spawn("i3", workspace: "ws2").types == ["instance.spawned"])
        try f.send("instance.transition", ["instance_id": "i1", "to": "offline"])
        #expect(try f.spawn("i3").types == ["instance.spawned"])
    }

    @Test func removeDeletesContexts() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.send("context.write", ["instance_id": "i1", "name": "notes", "data": ["a": 1]])
        let ev = try f.send("instance.remove", ["instance_id": "i1"])
        #expect(ev[0].payload["contexts_removed"] == .int(1))
        #expect(try f.store.contexts(workspace: "ws1", project: "p1").isEmpty)
        #expect(try f.send("instance.remove", ["instance_id": "i1"]).rejection == "not_found")
        // A new instance with the same id starts its contexts afresh.
        _ = try f.spawn("i1")
        let again = try f.send("context.write", ["instance_id": "i1", "name": "notes", "data": ["a": 2]])
        #expect(again.types == ["context.created", "context.version_created"])
        #expect(again[1].payload["version"] == .int(1))
    }

    @Test func twoWritersOnOneFileNeverReuseAVersion() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("i1")
        try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 1])
        // A second owner of the same file (a zombie after a rebalance) writes in between.
        let other = try PartitionStore(path: f.store.path, partition: 0)
        defer { other.close() }
        try other.apply([f.command("context.write", ["instance_id": "i1", "name": "c", "data": 2])])
        let ev = try f.send("context.write", ["instance_id": "i1", "name": "c", "data": 3])
        #expect(ev.first?.payload["version"] == .int(3))
        let versions = try f.store.versions(workspace: "ws1", project: "p1", instanceId: "i1", name: "c")
        #expect(versions.map(\.version) == [3, 2, 1])
    }

    @Test func derivedInstanceIdIsStable() throws {
        let a = try StoreFixture()
        let b = try StoreFixture()
        for f in [a, b] { try f.registerDefinition() }
        let e1 = try a.send("instance.spawn", ["definition": "builder", "name": "x"], id: "same")
        let e2 = try b.send("instance.spawn", ["definition": "builder", "name": "x"], id: "same")
        #expect(e1[0].payload["instance_id"] == e2[0].payload["instance_id"])
        #expect(e1[0].payload["instance_id"]?.stringValue?.hasPrefix("inst_") == true)
    }
}

@Suite struct MessageTests {
    func message(
        _ f: StoreFixture,
        from: String,
        to: String,
        toProject: String? = nil,
        workspace: String = "ws1",
        body: JSONValue = ["n": 1]
    )
        throws -> [Event]
    {
        var payload: [String: JSONValue] = ["from_instance_id": .string(from), "to_instance_id": .string(to), "body": body]
        if let toProject { payload["to_project_id"] = .string(toProject) }
        return try f.send("agent.message", .object(payload), workspace: workspace)
    }

    @Test func deliveriesNumberEachTargetsMailbox() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        for id in ["a", "b", "c"] { _ = try f.spawn(id) }
        _ = try f.spawn("d", project: "p2")
        var seqs: [Int64] = []
        for _ in 0..<3 {
            let ev = try message(f, from: "a", to: "b")
            #expect(ev.types == ["agent.message_delivered"])
            seqs.append(ev[0].payload["seq"]?.intValue ?? -1)
        }
        #expect(seqs == [1, 2, 3])
        let toC = try message(f, from: "b", to: "c", body: ["text": "hi"])
        #expect(toC[0].payload["seq"] == .int(1))
        #expect(toC[0].payload["from_instance_id"] == "b")
        #expect(toC[0].payload["from_project_id"] == "p1")
        #expect(toC[0].payload["body"] == ["text": "hi"])
        #expect(toC[0].payload["message_id"]?.stringValue == toC[0].commandId)
        // Another project of the same workspace, named explicitly.
        let toD = try message(f, from: "a", to: "d", toProject: "p2")
        #expect(toD[0].payload["to_project_id"] == "p2")
        #expect(toD[0].payload["seq"] == .int(1))
        #expect(try f.store.canonicalDump().contains(["\"mailbox\"", "\"ws1\"", "\"p1\"", "\"b\"", "3"].joined(separator: "\t")))
    }

    @Test func otherWorkspacesOfflineAndMissingAreRefused() throws {
        let f = try StoreFixture()
        try f.registerDefinition()
        _ = try f.spawn("a")
        _ = try f.spawn("x", workspace: "ws2")
        // The same id exists in ws2, but a ws1 sender can never reach it.
        let cross = try message(f, from: "a", to: "x")
        #expect(cross.rejection == "not_found")
        #expect(cross[0].payload["field"] == "payload.to_instance_id")
        #expect(try message(f, from: "nobody", to: "a").rejection == "not_found")
        _ = try f.spawn("b")
        try f.send("instance.transition", ["instance_id": "b", "to": "offline"])
        let off = try message(f, from: "a", to: "b")
        #expect(off.rejection == "instance_offline")
        #expect(try message(f, from: "b", to: "a").rejection == "instance_offline")
        let big = try message(f, from: "a", to: "a", body: .string(String(repeating: "x", count: 70_000)))
        #expect(big.rejection == "limit_exceeded")
        // Nothing was delivered, so no mailbox exists; removing an instance drops its mailbox.
        #expect(!(try f.store.canonicalDump().contains("mailbox")))
        _ = try message(f, from: "a", to: "a")
        try f.send("instance.remove", ["instance_id": "a"])
        #expect(!(try f.store.canonicalDump().contains("mailbox")))
    }
}
