import AgentCoreModel
import Foundation

@testable import AgentCoreStore

/// A fresh store in a temporary directory plus helpers to feed it commands as records.
final class StoreFixture {
    let dir: URL
    var store: PartitionStore
    var offsets: [CommandStream: Int64] = [.commands: -1, .contextWrites: -1]
    var clock: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    var counter = 0

    init(options: StoreOptions = StoreOptions(), partition: Int32 = 0) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentcore-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        store = try PartitionStore(path: dir.appendingPathComponent("p.sqlite").path, partition: partition, options: options)
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(at: dir)
    }

    func record(
        _ value: [UInt8]?,
        key: String?,
        stream: CommandStream,
        headers: [RecordHeader] = [],
        advance: Int64 = 1
    )
        -> InputRecord
    {
        offsets[stream]! += 1
        clock += advance
        return InputRecord(
            stream: stream,
            topic: "agentcore.\(stream.rawValue)",
            partition: store.partition,
            offset: offsets[stream]!,
            timestampMillis: clock,
            key: key.map { Array($0.utf8) },
            value: value,
            headers: headers
        )
    }

    func command(
        _ type: String,
        _ payload: JSONValue,
        workspace: String = "ws1",
        project: String? = "p1",
        id: String? = nil,
        actor: String = "tester"
    ) -> InputRecord {
        counter += 1
        let env = CommandEnvelope(
            id: id ?? "cmd-\(counter)",
            type: type,
            workspaceId: workspace,
            projectId: project,
            actor: actor,
            payload: payload
        )
        let stream = CommandType(rawValue: type)?.stream ?? .commands
        return record(env.bytes, key: workspace, stream: stream)
    }

    /// Applies records and returns the events they produced, decoded.
    @discardableResult
    func apply(_ records: InputRecord...) throws -> [Event] {
        try applyAll(records)
    }

    func applyAll(_ records: [InputRecord]) throws -> [Event] {
        let before = try store.outbox().last?.seq ?? 0
        try store.apply(records)
        return try store.outbox(after: before).filter { $0.topic != .dlq }.map { try Event(bytes: $0.value) }
    }

    @discardableResult
    func send(
        _ type: String,
        _ payload: JSONValue,
        workspace: String = "ws1",
        project: String? = "p1",
        id: String? = nil
    )
        throws -> [Event]
    {
        try apply(command(type, payload, workspace: workspace, project: project, id: id))
    }

    func registerDefinition(_ slug: String = "builder", schema: JSONValue = [:]) throws {
        try send(
            "definition.register",
            ["slug": .string(slug), "name": "Builder", "agent_type": "code", "capabilities": ["build"], "config_schema": schema]
        )
    }

    func spawn(_ id: String, workspace: String = "ws1", project: String = "p1", config: JSONValue = [:]) throws -> [Event] {
        try send(
            "instance.spawn",
            ["definition": "builder", "name": .string(id), "instance_id": .string(id), "config": config],
            workspace: workspace,
            project: project
        )
    }
}

extension Array where Element == Event {
    var types: [String] { map(\.type.rawValue) }
    var rejection: String? { first { $0.type == .commandRejected }?.payload["code"]?.stringValue }
}
