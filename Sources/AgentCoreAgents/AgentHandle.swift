import AgentCoreClient
import AgentCoreModel
import Foundation
import Logging

/// What an agent instance is given: who it is, a logger, its contexts, and messaging.
/// Every call goes through the cluster's contract (commands on Kafka, reads through a
/// worker's read API); nothing here touches a store.
public final class AgentHandle: Sendable {
    public let instanceId: String
    public let workspace: String
    public let project: String
    public let hostId: String
    public let logger: Logger
    let runner: CommandRunner
    let commands: Commands
    let reader: ReadAPI?
    /// How long an agent's own command may wait for the cluster before it throws.
    let commandDeadline: Duration

    init(
        instanceId: String,
        workspace: String,
        project: String,
        hostId: String,
        runner: CommandRunner,
        reader: ReadAPI?,
        commandDeadline: Duration,
        logger: Logger
    ) {
        self.instanceId = instanceId
        self.workspace = workspace
        self.project = project
        self.hostId = hostId
        self.runner = runner
        self.reader = reader
        self.commandDeadline = commandDeadline
        self.logger = logger
        commands = Commands(workspace: workspace, project: project, actor: "agent:\(instanceId)")
    }

    /// A context of this instance (created by its first write).
    public func context(_ name: String) -> AgentContext { AgentContext(handle: self, name: name) }

    /// Sends `body` to instance `to` of this workspace (in `project`, default this one).
    /// Waits for the cluster's answer and returns the delivery's mailbox sequence number;
    /// throws `AgentCommandRejected` (`not_found` for an instance that does not exist here,
    /// `instance_offline`, `limit_exceeded` for a body over 64 KiB).
    ///
    /// With `awaitDelivery: false` it returns (nil) once Kafka has the command, without
    /// waiting for the worker: a fire-and-forget send, for an agent that must not block its
    /// `receive` on a reply; a refusal is then only a `command.rejected` event on the
    /// status topic, not an error here.
    @discardableResult
    public func send(
        to: String,
        project: String? = nil,
        body: JSONValue,
        correlationId: String? = nil,
        awaitDelivery: Bool = true
    ) async throws -> Int64? {
        let command = commands.message(from: instanceId, to: to, toProject: project, body: body, correlationId: correlationId)
        guard awaitDelivery else {
            try await runner.client.producer.enqueue(command)
            return nil
        }
        let events = try await runner.perform(
            command,
            giveUpAfter: commandDeadline,
            until: AgentCoreClient.answered(by: [.agentMessageDelivered])
        )
        return try Self.number(events, .agentMessageDelivered, "seq", command)
    }

    /// The integer `field` of the first `type` event: the answer a command was waited for.
    static func number(_ events: [Event], _ type: EventType, _ field: String, _ command: CommandEnvelope) throws -> Int64 {
        guard let n = events.first(where: { $0.type == type })?.payload[field]?.intValue else {
            throw AgentHostError("\(command.type) \(command.id) was answered without \(type.rawValue): \(events.map(\.type.rawValue))")
        }
        return n
    }

    /// Answers `message`: sends `body` to its sender, correlated with the message's
    /// correlation id (or, when it had none, its message id). `awaitDelivery` as in `send`.
    @discardableResult
    public func reply(to message: AgentMessage, body: JSONValue, awaitDelivery: Bool = true) async throws -> Int64? {
        try await send(
            to: message.fromInstance,
            project: message.fromProject,
            body: body,
            correlationId: message.correlationId ?? message.messageId,
            awaitDelivery: awaitDelivery
        )
    }
}

/// One named context of an instance: read the current version, write new ones (with
/// compare-and-set on `expectedVersion`), roll back.
public struct AgentContext: Sendable {
    let handle: AgentHandle
    public let name: String

    /// A version as read.
    public struct Version: Sendable, Equatable {
        public var version: Int64
        public var data: JSONValue
    }

    /// The current version, or nil when the context has never been written. Reads go to
    /// a worker's read API (`readURL` of the host's configuration), which answers for any
    /// workspace.
    public func read() async throws -> Version? {
        guard let reader = handle.reader else {
            throw AgentHostError("reading a context needs the host's read_url (a worker's HTTP address)")
        }
        let path =
            "/v1/workspaces/\(ReadAPI.escape(handle.workspace))/projects/\(ReadAPI.escape(handle.project))/instances/\(ReadAPI.escape(handle.instanceId))/contexts/\(ReadAPI.escape(name))"
        guard let doc = try await reader.get(path) else { return nil }
        guard let v = doc["version"], let number = v["version"]?.intValue else {
            throw AgentHostError("unexpected answer from the read API for \(path)")
        }
        return Version(version: number, data: v["data"] ?? .null)
    }

    /// Writes a new version. With `expectedVersion`, the write happens only if the current
    /// version is that one (else `AgentCommandRejected` with code `version_conflict`);
    /// 0 means "the context must not exist yet". Returns the new version number.
    @discardableResult
    public func write(
        _ data: JSONValue,
        mode: WriteMode = .replace,
        expectedVersion: Int64? = nil,
        description: String? = nil
    ) async throws -> Int64 {
        let command = handle.commands.writeContext(
            instanceId: handle.instanceId,
            name: name,
            data: data,
            mode: mode,
            description: description,
            expectedVersion: expectedVersion
        )
        let events = try await handle.runner.perform(
            command,
            giveUpAfter: handle.commandDeadline,
            until: AgentCoreClient.answered(by: [.contextVersionCreated])
        )
        return try AgentHandle.number(events, .contextVersionCreated, "version", command)
    }

    /// Appends a version equal to `version` (`context.rollback`); returns the new number.
    @discardableResult
    public func rollback(to version: Int64, description: String? = nil) async throws -> Int64 {
        let command = handle.commands.rollbackContext(
            instanceId: handle.instanceId,
            name: name,
            targetVersion: version,
            description: description
        )
        let events = try await handle.runner.perform(command, giveUpAfter: handle.commandDeadline)
        return try AgentHandle.number(events, .contextVersionCreated, "version", command)
    }
}

/// GETs from a worker's read API (`docs/http-api.md`).
struct ReadAPI: Sendable {
    let baseURL: String
    let token: String?

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? s
    }

    /// The JSON answer, or nil on 404. Other statuses throw with the API's message.
    func get(_ path: String) async throws -> JSONValue? {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let response = try await HTTPGet.get(base + path, headers: token.map { [("Authorization", "Bearer \($0)")] } ?? [], timeoutSeconds: 10)
        let (status, data) = (response.status, response.body)
        if status == 404 { return nil }
        let body = try? JSONParser.parse(Array(data))
        guard status == 200, let body else {
            throw AgentHostError(
                "read API answered \(status) for \(path): \(body?["message"]?.stringValue ?? String(decoding: data.prefix(200), as: UTF8.self))"
            )
        }
        return body
    }
}

/// A host problem for people: bad configuration, an unknown agent type, a read failure.
public struct AgentHostError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
