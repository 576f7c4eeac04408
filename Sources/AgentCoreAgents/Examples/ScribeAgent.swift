import AgentCoreModel

/// Built-in example: keeps a log of what it is told. Each message it receives becomes a new
/// version of its context (config `context`, default `inbox`), and it replies to the sender
/// with the version it wrote. With config `greet` naming a peer instance, it sends that peer
/// a greeting when it becomes active. Replies (bodies with `ack`) are logged, not answered,
/// so two scribes never ping-pong.
public actor ScribeAgent: Agent {
    public static let definition = AgentDefinition(
        slug: "scribe",
        name: "Scribe",
        agentType: "example",
        description: "Writes each message it receives into a context version and replies with the version.",
        capabilities: ["messages", "context"],
        configSchema: [
            "type": "object",
            "properties": ["context": ["type": "string"], "greet": ["type": "string"]],
        ]
    )

    let handle: AgentHandle
    var contextName = "inbox"
    var greet: String?
    var received = 0
    var greeting: Task<Void, Never>?

    public init(handle: AgentHandle) { self.handle = handle }

    public func initialize(config: JSONValue) async throws {
        contextName = config["context"]?.stringValue ?? "inbox"
        greet = config["greet"]?.stringValue
    }

    public func activate() async throws {
        guard let greet else { return }
        // The peer may still be starting: greet from a task of its own, a few times.
        let handle = handle
        greeting = Task {
            for attempt in 1...20 {
                do {
                    try await handle.send(
                        to: greet,
                        body: ["text": .string("hello from \(handle.instanceId)")],
                        correlationId: "greeting-\(handle.instanceId)"
                    )
                    return
                } catch let r as AgentCommandRejected where attempt < 20 && !Task.isCancelled {
                    handle.logger.debug("greeting \(greet) not delivered yet: \(r)")
                    try? await Task.sleep(for: .milliseconds(500))
                } catch {
                    handle.logger.warning("could not greet \(greet): \(error)")
                    return
                }
            }
        }
    }

    public func deactivate() async throws { greeting?.cancel() }

    public func shutdown() async throws { greeting?.cancel() }

    public func configure(_ config: JSONValue) async throws {
        contextName = config["context"]?.stringValue ?? contextName
    }

    public func receive(_ message: AgentMessage) async throws {
        received += 1
        if message.body["ack"] != nil {
            handle.logger.info("\(handle.instanceId): \(message.fromInstance) acknowledged with version \(message.body["version"]?.intValue ?? 0)")
            return
        }
        let version = try await handle.context(contextName).write(
            ["from": .string(message.fromInstance), "seq": .int(message.seq), "body": message.body, "received": .int(Int64(received))],
            description: "message \(message.seq) from \(message.fromInstance)"
        )
        try await handle.reply(to: message, body: ["ack": .int(message.seq), "version": .int(version)])
    }
}
