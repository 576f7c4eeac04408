import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import AgentCoreStore
import Foundation
import Testing

@testable import AgentCoreWorker

@Suite(.serialized) struct WorkerEndToEndTests {
    @Test func everyCommandTypeThroughKafka() async throws {
        let h = try WorkerHarness(partitions: 4)
        h.startWorker()
        let client = try h.client()
        let ws = Commands(workspace: "acme", project: "web", actor: "alice")
        var sent: [CommandEnvelope] = [
            ws.registerDefinition(
                slug: "coder",
                name: "Coder",
                agentType: "llm",
                capabilities: ["code"],
                configSchema: ["type": "object", "properties": ["temperature": ["type": "number", "maximum": 2]]]
            ),
            ws.updateDefinition(slug: "coder", changes: ["description": "writes code"]),
            ws.spawn(definition: "coder", name: "c1", instanceId: "c1", config: ["temperature": 0.5]),
            ws.transition(instanceId: "c1", to: .active),
            ws.heartbeat(instanceId: "c1", state: ["task": "t1"]),
            ws.configure(instanceId: "c1", config: ["temperature": 1.0]),
            ws.configure(instanceId: "c1", config: ["temperature": 9]),
            ws.message(from: "c1", to: "c1", body: ["note": "to self"], correlationId: "corr"),
        ]
        for e in sent { try await client.producer.enqueue(e) }
        // Context writes come after the spawn is in: wait for it so the streams' order is clear.
        let reader = try h.reader([h.topics.status, h.topics.heartbeats])
        var events: [Event] = []
        #expect(
            await eventually {
                events += reader.poll().map(\.event)
                return events.contains { $0.type == .instanceConfigured }
            }
        )
        let more: [CommandEnvelope] = [
            ws.writeContext(instanceId: "c1", name: "plan", data: ["steps": ["a"]]),
            ws.writeContext(instanceId: "c1", name: "plan", data: ["done": true], mode: .mergePatch, expectedVersion: 1),
            ws.rollbackContext(instanceId: "c1", name: "plan", targetVersion: 1),
            ws.writeContext(instanceId: "c1", name: "plan", data: 1, expectedVersion: 1),
        ]
        for e in more { try await client.producer.enqueue(e) }
        sent += more
        let last = ws.remove(instanceId: "c1")
        #expect(
            await eventually {
                events += reader.poll().map(\.event)
                return events.filter { $0.type == .contextRolledBack }.count == 1 && events.contains { $0.commandId == more.last!.id }
            }
        )
        try await client.producer.enqueue(last)
        sent.append(last)
        let disable = ws.disableDefinition(slug: "coder")
        try await client.producer.enqueue(disable)
        sent.append(disable)
        #expect(
            await eventually {
                events += reader.poll().map(\.event)
                return events.contains { $0.type == .definitionDisabled }
            }
        )

        let types = Set(events.map(\.type))
        #expect(types == Set(EventType.allCases.filter { $0 != .contextVersionsPruned }))
        for s in sent { #expect(events.contains { $0.commandId == s.id }, "result for \(s.type)") }
        #expect(events.first { $0.commandId == sent[6].id }?.payload["code"] == "config_invalid")
        #expect(events.first { $0.commandId == more[3].id }?.payload["code"] == "version_conflict")
        // One definition event per command, though the command went to every partition.
        #expect(events.filter { $0.type == .definitionRegistered }.count == 1)
        // Heartbeats land on the heartbeats topic.
        try await h.stopAll()
        let store = try h.store(for: "acme")
        defer { store.close() }
        #expect(try store.instance(workspace: "acme", project: "web", id: "c1") == nil)
        // Every partition has the registry.
        for p in 0..<Int32(h.partitions) {
            let s = try PartitionStore(path: (h.dataDir as NSString).appendingPathComponent("partition-\(p).sqlite"), partition: p)
            #expect(try s.canonicalDump().contains("\"definition\"\t\"coder\""))
            s.close()
        }
    }

    @Test func badInputIsAccountedForAndWorkerKeepsGoing() async throws {
        let h = try WorkerHarness(partitions: 4)
        h.startWorker()
        var big1 = h.kafka
        big1.properties["message.max.bytes"] = "2000000"
        let producer = try KafkaProducer(config: big1)
        defer { producer.close() }
        let client = try h.client()
        let ws = Commands(workspace: "w1", project: "p", actor: "a")
        try await client.producer.enqueue(ws.registerDefinition(slug: "d", name: "D", agentType: "t"))
        let home = Murmur2.partition(forKey: "w1", partitionCount: 4)
        let good = ws.spawn(definition: "d", name: "n", instanceId: "i1")
        let other = (0..<50).map { "x\($0)" }.first { Murmur2.partition(forKey: $0, partitionCount: 4) != home }!
        let otherCmd = Commands(workspace: other, project: "p", actor: "a").spawn(definition: "d", name: "n")
        var big = [UInt8](repeating: UInt8(ascii: " "), count: 1_100_000)
        big[0] = UInt8(ascii: "{")
        big[big.count - 1] = UInt8(ascii: "}")
        let inputs: [(key: String?, value: [UInt8]?, expect: String)] = [
            ("w1", Array("not json".utf8), "invalid_json"),
            ("w1", nil, "null_value"),
            ("w1", Array(#"{"schema":"agentcore.command/v1","id":"x"}"#.utf8), "invalid_envelope"),
            ("w1", Array(#"{"schema":"other/v2"}"#.utf8), "unsupported_schema"),
            ("w2", good.bytes, "key_mismatch"),
            (other, otherCmd.bytes, "wrong_partition"),
            ("w1", big, "record_too_large"),
            ("w1", good.bytes, "instance.spawned"),
            ("w1", ws.transition(instanceId: "i1", to: .busy).bytes, "command.rejected"),
            ("w1", ws.transition(instanceId: "i1", to: .error, error: "x").bytes, "instance.status_changed"),
        ]
        var offsets: [Int64] = []
        for i in inputs {
            let r = try await producer.send(
                topic: h.topics.commands,
                partition: home,
                key: i.key.map { Array($0.utf8) },
                value: i.value
            )
            offsets.append(r.offset)
        }
        let dlq = try await h.readRaw(h.topics.dlq) { $0.count >= 7 }
        let status = try await h.readRaw(h.topics.status) { recs in
            let evs = recs.compactMap { $0.value.flatMap { try? Event(bytes: $0) } }
            return evs.contains { $0.type == .instanceStatusChanged }
        }
        try await h.stopAll()
        var outcome: [Int64: String] = [:]
        for r in dlq {
            let v = try JSONParser.parse(r.value ?? [])
            let off = try #require(v["source"]?["offset"]?.intValue)
            #expect(outcome[off] == nil, "one dead letter per offset")
            outcome[off] = v["reason"]?.stringValue
            #expect(r.key == inputs.first { $0.expect == v["reason"]?.stringValue }?.key.map { Array($0.utf8) })
        }
        for r in status {
            guard let e = try? Event(bytes: r.value ?? []) else { continue }
            let parts = e.id.split(separator: "/")
            guard parts[0] == h.topics.commands, let off = Int64(parts[2]), offsets.contains(off) else { continue }
            if outcome[off] == nil { outcome[off] = e.type.rawValue }
        }
        for (i, off) in offsets.enumerated() {
            #expect(outcome[off] == inputs[i].expect, "offset \(off)")
        }
        // The dead letter keeps the original bytes.
        let invalid = try #require(dlq.first { (try? JSONParser.parse($0.value ?? []))?["reason"] == "invalid_json" })
        let v = try JSONParser.parse(invalid.value ?? [])
        #expect(v["value_base64"]?.stringValue.flatMap { Data(base64Encoded: $0) }.map { Array($0) } == Array("not json".utf8))
    }
}
