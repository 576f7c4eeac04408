import AgentCoreClient
import AgentCoreKafka
import AgentCoreModel
import ArgumentParser
import Foundation

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow the status, heartbeat or dead-letter topic."
    )

    @OptionGroup var connection: ConnectionOptions
    @Option(help: "status, heartbeats, dlq, or a full topic name.") var topic = "status"
    @Flag(help: "Print each record's JSON on one line.") var json = false
    @Option(help: "Only this workspace.") var workspace: String?
    @Option(help: "Only events about this instance.") var instance: String?
    @Option(help: "Only this event type (e.g. context.version_created).") var type: String?
    @Flag(help: "Start at the end instead of the beginning.") var fromEnd = false
    @Option(help: "Exit after this many records.") var limit: Int?
    @Option(help: "Exit after this many seconds without records (counted from when the group gave this reader its partitions).")
    var idleExit: Double?
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try await withKafkaHint(connection) { try follow() }
    }

    func follow() throws {
        _ = logging.bootstrap(default: .error)
        let t = connection.topics
        let name = ["status": t.status, "heartbeats": t.heartbeats, "dlq": t.dlq][topic] ?? topic
        var options = ConsumerOptions(groupId: "agentcore-tail-\(UUID().uuidString)")
        options.autoOffsetReset = fromEnd ? .latest : .earliest
        options.sessionTimeout = .seconds(6)
        options.heartbeatInterval = .milliseconds(500)
        let consumer = try KafkaConsumer(config: connection.kafkaConfig(), options: options)
        defer { consumer.close() }
        try consumer.subscribe([name])
        var shown = 0
        // Idle time counts from the assignment: joining the group takes seconds, and records
        // that exist must not be missed because the join was slow.
        var lastRecord: Date?
        while true {
            let batch = consumer.poll(maxRecords: 500, timeoutMs: 200)
            if !batch.records.isEmpty || (lastRecord == nil && !((try? consumer.assignment()) ?? []).isEmpty) { lastRecord = Date() }
            for r in batch.records {
                guard let line = render(r) else { continue }
                print(line)
                shown += 1
                if let limit, shown >= limit { return }
            }
            fflush(nil)
            if let idleExit, let lastRecord, Date().timeIntervalSince(lastRecord) > idleExit { return }
        }
    }

    func render(_ r: KafkaRecord) -> String? {
        guard let bytes = r.value, let value = try? JSONParser.parse(bytes) else {
            return json ? nil : "\(r.topic)[\(r.partition)]@\(r.offset)  (not JSON, \(r.value?.count ?? 0) bytes)"
        }
        if let event = try? Event(json: value) {
            if let workspace, event.workspaceId != workspace { return nil }
            if let type, event.type.rawValue != type { return nil }
            if let instance, event.payload["instance_id"]?.stringValue != instance { return nil }
            if json { return value.canonicalString }
            return Pretty.event(event)
        }
        if workspace != nil || instance != nil || type != nil { return nil }
        if json { return value.canonicalString }
        if value["schema"]?.stringValue == DeadLetter.schema {
            let src = value["source"]
            return
                "dead-letter  \(value["reason"]?.stringValue ?? "?")  \(src?["topic"]?.stringValue ?? "")[\(src?["partition"]?.intValue ?? -1)]@\(src?["offset"]?.intValue ?? -1)  \(value["message"]?.stringValue ?? "")"
        }
        if value["schema"]?.stringValue == "agentcore.worker-heartbeat/v1" {
            let parts = value["partitions"]?.arrayValue?.compactMap { $0["partition"]?.intValue }.map(String.init) ?? []
            return
                "worker  \(value["worker_id"]?.stringValue ?? "?")  partitions [\(parts.joined(separator: ","))]  \(value["records_per_second"]?.numberValue ?? 0) rec/s"
        }
        return value.canonicalString
    }
}

/// Human-readable one-liners for events.
enum Pretty {
    static func event(_ e: Event) -> String {
        let p = e.payload
        let scope = "\(e.workspaceId)/\(e.projectId ?? "-")"
        let detail: String
        switch e.type {
        case .instanceStatusChanged:
            detail =
                "\(p["instance_id"]?.stringValue ?? "") \(p["from"]?.stringValue ?? "") → \(p["to"]?.stringValue ?? "")"
                + (p["reason"]?.stringValue.map { " (\($0))" } ?? "")
        case .contextVersionCreated:
            detail =
                "\(p["instance_id"]?.stringValue ?? "")/\(p["name"]?.stringValue ?? "") v\(p["version"]?.intValue ?? 0) \(p["byte_size"]?.intValue ?? 0)B by \(p["created_by"]?.stringValue ?? "")"
        case .contextRolledBack:
            detail =
                "\(p["instance_id"]?.stringValue ?? "")/\(p["name"]?.stringValue ?? "") → v\(p["target_version"]?.intValue ?? 0) \(p["rollback_state"]?.stringValue ?? "")"
        case .commandRejected:
            detail = "\(p["command_type"]?.stringValue ?? "") \(p["code"]?.stringValue ?? ""): \(p["message"]?.stringValue ?? "")"
        case .definitionRegistered, .definitionUpdated, .definitionDisabled:
            detail = "\(p["slug"]?.stringValue ?? "") rev \(p["revision"]?.intValue ?? 0)"
        default:
            detail = p["instance_id"]?.stringValue ?? p["context_id"]?.stringValue ?? ""
        }
        return
            "\(Timestamp.iso8601(millis: e.occurredAtMillis))  \(e.type.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0)) \(scope)  \(detail)"
    }
}
