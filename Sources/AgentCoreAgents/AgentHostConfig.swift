import AgentCoreModel
import Foundation

/// The agent types a host can run, given in code: the Swift form of the seed's
/// `agent_registry_modules` (a module exposes its types; the program registers them).
public struct AgentRegistry: Sendable {
    public private(set) var types: [String: any Agent.Type] = [:]

    public init() {}

    public init(_ types: [any Agent.Type]) {
        for t in types { register(t) }
    }

    /// Adds `type` under its definition's slug (a later registration of the slug wins).
    public mutating func register(_ type: any Agent.Type) { types[type.definition.slug] = type }

    public func type(_ slug: String) -> (any Agent.Type)? { types[slug] }
}

/// Which agents a host runs (the host's config file, JSON):
///
///     {
///       "agents_enabled": true,
///       "host_id": "host-a",
///       "heartbeat_interval_seconds": 10,
///       "read_url": "http://127.0.0.1:8080",
///       "instances": [
///         {"type": "scribe", "workspace": "demo", "project": "agents", "count": 2,
///          "config": {"context": "notes"}},
///         {"type": "fragile", "workspace": "demo", "project": "agents", "ids": ["fragile-1"]}
///       ]
///     }
///
/// Instance ids are `ids` when given, else `<host_id>-<type>-<n>` for n = 1...count: the
/// same on every start, so a restarted host adopts its instances instead of spawning new
/// ones.
public struct AgentHostConfig: Sendable, Equatable {
    /// The seed's `agents_enabled`: off, the host registers nothing and runs nothing.
    public var agentsEnabled = true
    /// Names this host: its instance ids, its consumer group (`agentcore-agent-host-<id>`).
    public var hostId: String
    /// Heartbeat period per instance; keep it well inside the workers' instance timeout
    /// (default 60 s): a third of it or less.
    public var heartbeatInterval: Duration = .seconds(10)
    /// A worker's HTTP address for context reads (any worker answers any workspace).
    public var readURL: String?
    public var readToken: String?
    /// How long an agent's own command (write, send) waits for the cluster before it throws.
    public var commandDeadline: Duration = .seconds(60)
    /// How long one attempt of a command waits for its answer before the same command is
    /// sent again.
    public var commandAttemptTimeout: Duration = .seconds(10)
    /// Upper bound on messages read but not yet handled, over all instances.
    public var maxPendingMessages = 10_000
    public var instances: [InstanceSpec] = []

    public struct InstanceSpec: Sendable, Equatable {
        public var type: String
        public var workspace: String
        public var project: String
        public var ids: [String]
        public var config: JSONValue

        public init(type: String, workspace: String, project: String, ids: [String], config: JSONValue = [:]) {
            self.type = type
            self.workspace = workspace
            self.project = project
            self.ids = ids
            self.config = config
        }
    }

    public init(hostId: String, instances: [InstanceSpec] = []) {
        self.hostId = hostId
        self.instances = instances
    }

    /// Parses the config file's JSON; errors name the field.
    public static func parse(_ bytes: [UInt8]) throws -> AgentHostConfig {
        let doc: JSONValue
        do { doc = try JSONParser.parse(bytes) } catch { throw AgentHostError("agent host config is not JSON: \(error)") }
        guard case .object(var o) = doc else { throw AgentHostError("agent host config must be a JSON object") }
        func take(_ k: String) -> JSONValue? { o.removeValue(forKey: k) }
        guard let host = take("host_id")?.stringValue, Identifier.isValid(host) else {
            throw AgentHostError("host_id is required: [A-Za-z0-9][A-Za-z0-9._:@-]*")
        }
        var c = AgentHostConfig(hostId: host)
        if let v = take("agents_enabled") {
            guard case .bool(let b) = v else { throw AgentHostError("agents_enabled must be true or false") }
            c.agentsEnabled = b
        }
        if let v = take("heartbeat_interval_seconds") {
            guard let s = v.numberValue, s >= 0.1, s <= 3600 else {
                throw AgentHostError("heartbeat_interval_seconds must be a number from 0.1 to 3600")
            }
            c.heartbeatInterval = .milliseconds(Int64(s * 1000))
        }
        if let v = take("command_deadline_seconds") {
            guard let s = v.numberValue, s >= 1 else { throw AgentHostError("command_deadline_seconds must be at least 1") }
            c.commandDeadline = .milliseconds(Int64(s * 1000))
        }
        if let v = take("command_attempt_seconds") {
            guard let s = v.numberValue, s >= 0.1 else { throw AgentHostError("command_attempt_seconds must be at least 0.1") }
            c.commandAttemptTimeout = .milliseconds(Int64(s * 1000))
        }
        if let v = take("max_pending_messages") {
            guard let n = v.intValue, n >= 1 else { throw AgentHostError("max_pending_messages must be a positive integer") }
            c.maxPendingMessages = Int(n)
        }
        if let v = take("read_url"), v != .null {
            guard let s = v.stringValue, s.hasPrefix("http://") || s.hasPrefix("https://") else {
                throw AgentHostError("read_url must be an http(s) URL")
            }
            c.readURL = s
        }
        if let v = take("read_token"), v != .null { c.readToken = v.stringValue }
        for (i, entry) in (take("instances")?.arrayValue ?? []).enumerated() {
            let at = "instances[\(i)]"
            guard case .object(var e) = entry else { throw AgentHostError("\(at) must be an object") }
            func field(_ k: String) throws -> String {
                guard let s = e.removeValue(forKey: k)?.stringValue, Identifier.isValid(s) else {
                    throw AgentHostError("\(at).\(k) is required: [A-Za-z0-9][A-Za-z0-9._:@-]*")
                }
                return s
            }
            let type = try field("type")
            let workspace = try field("workspace")
            let project = try field("project")
            var ids: [String] = []
            if let list = e.removeValue(forKey: "ids") {
                guard let a = list.arrayValue, !a.isEmpty else { throw AgentHostError("\(at).ids must be a non-empty array") }
                for id in a {
                    guard let s = id.stringValue, Identifier.isValid(s) else {
                        throw AgentHostError("\(at).ids: '\(id)' is not an instance id")
                    }
                    ids.append(s)
                }
            }
            if let n = e.removeValue(forKey: "count") {
                guard ids.isEmpty else { throw AgentHostError("\(at): give ids or count, not both") }
                guard let n = n.intValue, n >= 1, n <= 1_000 else { throw AgentHostError("\(at).count must be 1 to 1000") }
                ids = (1...n).map { "\(host)-\(type)-\($0)" }
            }
            if ids.isEmpty { ids = ["\(host)-\(type)-1"] }
            let config = e.removeValue(forKey: "config") ?? [:]
            guard config.objectValue != nil else { throw AgentHostError("\(at).config must be an object") }
            if let extra = e.keys.sorted().first { throw AgentHostError("\(at): unknown field '\(extra)'") }
            c.instances.append(InstanceSpec(type: type, workspace: workspace, project: project, ids: ids, config: config))
        }
        if let extra = o.keys.sorted().first { throw AgentHostError("unknown field '\(extra)' in the agent host config") }
        try c.validate()
        return c
    }

    /// What `parse` checks beyond syntax, for configs built in code too: every id valid and
    /// listed once.
    public func validate() throws {
        guard Identifier.isValid(hostId) else { throw AgentHostError("host_id '\(hostId)' is not an identifier") }
        var seen = Set<String>()
        for spec in instances {
            for id in spec.ids {
                guard Identifier.isValid(id), Identifier.isValid(spec.workspace), Identifier.isValid(spec.project) else {
                    throw AgentHostError("instance \(spec.workspace)/\(spec.project)/\(id) has an invalid identifier")
                }
                guard seen.insert("\(spec.workspace)/\(spec.project)/\(id)").inserted else {
                    throw AgentHostError("instance \(id) of \(spec.workspace)/\(spec.project) is listed twice")
                }
            }
        }
    }

    public static func load(path: String) throws -> AgentHostConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentHostError(FileManager.default.fileExists(atPath: path) ? "cannot read \(path)" : "no such file: \(path)")
        }
        do { return try parse(Array(data)) } catch let e as AgentHostError { throw AgentHostError("\(path): \(e.description)") }
    }
}
