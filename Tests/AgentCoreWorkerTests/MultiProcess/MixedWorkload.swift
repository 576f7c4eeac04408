import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import Foundation

/// A seeded mix of commands over many workspaces, produced through the client library,
/// with a little bad input, and a record of what was sent for the checks.
final class MixedWorkload: @unchecked Sendable {
    let producer: AgentCoreProducer
    let raw: KafkaProducer
    let prefix: String
    let workspaces: Int
    var rng: SplitMix64
    private(set) var commandIds: [String] = []
    let badOffsets = Locked<[String: Int]>([:])  // "topic/partition/offset" of dead letters
    private(set) var badCount = 0
    var writes: [String: Int] = [:]

    init(producer: AgentCoreProducer, prefix: String, workspaces: Int, seed: UInt64) {
        self.producer = producer
        self.raw = producer.producer
        self.prefix = prefix
        self.workspaces = workspaces
        self.rng = SplitMix64(seed: seed)
    }

    func next() -> UInt64 { rng.next() }

    func scope(_ w: Int) -> Commands { Commands(workspace: "ws-\(w)", project: "p\(w % 3)", actor: "load") }

    func send(_ c: CommandEnvelope) throws {
        try producer.enqueue(c) { r in if case .failure(let e) = r { print("delivery failed: \(e)") } }
        commandIds.append(c.id)
    }

    /// Definitions and two instances per workspace; waits for Kafka to hold them.
    func setUp() throws {
        try send(scope(0).registerDefinition(slug: "agent", name: "Agent", agentType: "llm", id: "def-1"))
        for w in 0..<workspaces {
            for i in 0..<2 { try send(scope(w).spawn(definition: "agent", name: "a\(i)", instanceId: "a\(i)", id: "spawn-\(w)-\(i)")) }
        }
        try producer.flush()
    }

    /// `setUp`, then waits (up to 120 s) until a worker answered every spawn: the mixed
    /// load's writes go to the other input topic, and under load a live merge could take a
    /// write before a lagging spawn, which the reference replay the checks compare with
    /// never does (the documented limit of the two-stream merge).
    func setUp(waitingOn h: WorkerHarness) throws {
        try setUp()
        var o = ConsumerOptions(groupId: "setup-\(UUID().uuidString)")
        o.sessionTimeout = .seconds(6)
        o.heartbeatInterval = .milliseconds(500)
        let c = try KafkaConsumer(config: h.kafka, options: o)
        defer { c.close() }
        try c.subscribe([h.topics.status])
        var wanted = Set((0..<workspaces).flatMap { w in (0..<2).map { "spawn-\(w)-\($0)" } })
        let deadline = Date().addingTimeInterval(120)
        while !wanted.isEmpty && Date() < deadline {
            for r in c.poll(maxRecords: 2_000, timeoutMs: 200).records {
                if let v = r.value, let e = try? Event(bytes: v), let id = e.commandId { wanted.remove(id) }
            }
        }
        if !wanted.isEmpty { throw CLIMissing(message: "\(wanted.count) spawns not answered within 120 s") }
    }

    /// `count` mixed commands at about `rate` per second.
    func run(count: Int, rate: Int, startAt: Int = 0, progress: (Int) -> Void = { _ in }) throws {
        let start = Date()
        for n in startAt..<(startAt + count) {
            let w = Int(next() % UInt64(workspaces))
            let s = scope(w)
            let inst = "a\(next() % 2)"
            let roll = next() % 100
            let id = "m-\(n)"
            switch roll {
            case 0..<55:
                let name = "ctx\(next() % 3)"
                writes["ws-\(w)/\(inst)/\(name)", default: 0] += 1
                try send(
                    s.writeContext(
                        instanceId: inst,
                        name: name,
                        data: ["n": .int(Int64(n)), "text": .string(String(repeating: "z", count: Int(next() % 200)))],
                        mode: roll % 2 == 0 ? .replace : .mergePatch,
                        id: id
                    )
                )
            case 55..<70: try send(s.heartbeat(instanceId: inst, state: ["n": .int(Int64(n))], id: id))
            case 70..<80:
                let to = [InstanceStatus.active, .busy, .idle, .error][Int(next() % 4)]
                try send(s.transition(instanceId: inst, to: to, id: id))
            case 80..<87: try send(s.configure(instanceId: inst, config: ["k": .int(Int64(n % 7))], id: id))
            case 87..<95: try send(s.rollbackContext(instanceId: inst, name: "ctx\(next() % 3)", targetVersion: Int64(1 + next() % 5), id: id))
            default:
                let topic = "\(prefix).commands"
                let partitions = try producer.producer.partitionCount(topic: topic) ?? 1
                let key = "ws-\(w)"
                let partition = Murmur2.partition(forKey: key, partitionCount: Int32(partitions))
                badCount += 1
                try raw.produce(topic: topic, partition: partition, key: Array(key.utf8), value: Array("garbage \(n)".utf8)) { [badOffsets] r in
                    if case .success(let d) = r { badOffsets.withLock { $0["\(d.topic)/\(d.partition)/\(d.offset)"] = n } }
                }
            }
            if (n - startAt) % 100 == 99 {
                progress(n - startAt + 1)
                let due = start.addingTimeInterval(Double(n - startAt + 1) / Double(rate))
                let wait = due.timeIntervalSinceNow
                if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            }
        }
        try producer.flush()
    }
}
