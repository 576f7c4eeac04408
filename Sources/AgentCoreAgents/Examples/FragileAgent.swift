import AgentCoreModel

/// Built-in example of the error path: `initialize` refuses a config whose `endpoint` is
/// not an http(s) URL, so the instance goes to `error` with that message as its last
/// error while the host keeps running its other instances. An operator fixes it with
/// `instance.configure` and a transition to `idle` then `active`.
public actor FragileAgent: Agent {
    public static let definition = AgentDefinition(
        slug: "fragile",
        name: "Fragile",
        agentType: "example",
        description: "Fails initialize unless config.endpoint is an http(s) URL.",
        capabilities: [],
        configSchema: ["type": "object", "properties": ["endpoint": ["type": "string"]]]
    )

    public struct BadConfig: Error, CustomStringConvertible {
        public var description: String
    }

    let handle: AgentHandle
    public init(handle: AgentHandle) { self.handle = handle }

    public func initialize(config: JSONValue) async throws {
        let endpoint = config["endpoint"]?.stringValue ?? ""
        guard endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://") else {
            throw BadConfig(description: "config.endpoint must be an http(s) URL, got '\(endpoint)'")
        }
    }
}

extension AgentRegistry {
    /// The built-in examples: `scribe` and `fragile`.
    public static let examples = AgentRegistry([ScribeAgent.self, FragileAgent.self])

    /// The built-in examples' demo: two scribes (the first greets the second) and a fragile
    /// agent with a bad config, in workspace `demo`, project `agents`.
    public static func exampleConfig(hostId: String = "demo-host", workspace: String = "demo") -> AgentHostConfig {
        var c = AgentHostConfig(hostId: hostId)
        c.instances = [
            .init(type: "scribe", workspace: workspace, project: "agents", ids: ["scribe-2"], config: ["context": "inbox"]),
            .init(type: "scribe", workspace: workspace, project: "agents", ids: ["scribe-1"], config: ["greet": "scribe-2"]),
            .init(type: "fragile", workspace: workspace, project: "agents", ids: ["fragile-1"], config: ["endpoint": "not-a-url"]),
        ]
        return c
    }
}
