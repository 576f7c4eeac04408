import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation
import Logging

/// A synthetic mix of agent traffic for `agentcore dev` and benchmarks: definitions, spawns,
/// then context writes, heartbeats, transitions, rollbacks and a little bad input.
final class DemoLoad: @unchecked Sendable {
    let producer: AgentCoreProducer
    let raw: KafkaProducer
    let topics: (commands: String, contextWrites: String)
    let workspaces: Int
    let instancesPerWorkspace = 3
    private(set) var sent = 0
    private var statuses: [String: InstanceStatus] = [:]

    init(producer: AgentCoreProducer, commandsTopic: String, contextWritesTopic: String, workspaces: Int = 20) {
        self.producer = producer
        self.raw = producer.producer
        self.topics = (commandsTopic, contextWritesTopic)
        self.workspaces = workspaces
    }

    func scope(_ w: Int) -> Commands { Commands(workspace: "ws-\(w)", project: "demo", actor: "demo-load") }

    /// Registers the definitions and spawns the instances, waiting for Kafka to have them.
    func setUp() async throws {
        let admin = scope(0)
        try await producer.enqueue(
            admin.registerDefinition(
                slug: "researcher",
                name: "Researcher",
                agentType: "llm",
                capabilities: ["search", "summarize"],
                configSchema: ["type": "object", "properties": ["temperature": ["type": "number", "minimum": 0, "maximum": 2]]]
            )
        )
        try await producer.enqueue(admin.registerDefinition(slug: "coder", name: "Coder", agentType: "llm", capabilities: ["code"]))
        for w in 0..<workspaces {
            for i in 0..<instancesPerWorkspace {
                try producer.enqueue(
                    scope(w).spawn(
                        definition: i == 0 ? "researcher" : "coder",
                        name: "agent-\(i)",
                        instanceId: "agent-\(i)",
                        config: i == 0 ? ["temperature": 0.7] : [:]
                    ),
                    onDelivery: { _ in }
                )
            }
        }
        try producer.flush()
        sent += 2 + workspaces * instancesPerWorkspace
    }

    /// One random command (or, rarely, bad input) without waiting for delivery.
    func sendOne() throws {
        let w = Int.random(in: 0..<workspaces)
        let s = scope(w)
        let inst = "agent-\(Int.random(in: 0..<instancesPerWorkspace))"
        let roll = Int.random(in: 0..<100)
        let cmd: CommandEnvelope
        switch roll {
        case 0..<50:
            let mode: WriteMode = roll % 3 == 0 ? .mergePatch : .replace
            cmd = s.writeContext(
                instanceId: inst,
                name: ["plan", "notes", "memory"][roll % 3],
                data: ["step": .int(Int64(sent)), "summary": .string("working on task \(sent % 97)"), "ok": true],
                mode: mode
            )
        case 50..<70:
            cmd = s.heartbeat(instanceId: inst, state: ["queue": .int(Int64(roll))])
        case 70..<82:
            let key = "ws-\(w)/\(inst)"
            let from = statuses[key] ?? .idle
            let to: InstanceStatus = from == .active ? .busy : from == .busy ? .idle : .active
            statuses[key] = to
            cmd = s.transition(instanceId: inst, to: to, reason: "demo")
        case 82..<88:
            cmd = s.rollbackContext(instanceId: inst, name: "plan", targetVersion: Int64.random(in: 1...3))
        case 88..<93:
            cmd = s.configure(instanceId: "agent-0", config: ["temperature": .double(Double(roll % 4) * 0.8)])
        case 93..<97:
            cmd = s.writeContext(instanceId: "ghost", name: "plan", data: 1)
        default:
            try raw.produce(topic: topics.commands, key: Array("ws-\(w)".utf8), value: Array("not json \(sent)".utf8)) { _ in }
            sent += 1
            return
        }
        try producer.enqueue(cmd) { _ in }
        sent += 1
    }

    /// Sends at about `rate` commands per second until `stop()` says so.
    func run(rate: Int, until stop: () -> Bool) async throws {
        let perTick = max(1, rate / 20)
        while !stop() {
            for _ in 0..<perTick { try sendOne() }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
