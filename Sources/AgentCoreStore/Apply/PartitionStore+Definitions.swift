import AgentCoreModel

/// Definitions are global: producers write each definition command to every partition (the
/// key's own partition plainly, the others with the `agentcore-replica` header), so each
/// store holds the whole registry, changed in its own log order. Only the key's own
/// partition publishes the events.
extension PartitionStore {
    struct DefinitionRow {
        var id: String
        var fields: DefinitionFields
        var revision: Int64
    }

    func definition(slug: String) throws -> DefinitionRow? {
        let s = try db.statement(
            "SELECT id, name, agent_type, description, capabilities, config_schema, metadata, is_enabled, revision FROM agent_definitions WHERE slug = ?"
        )
        try s.bind(.text(slug), at: 1)
        defer { s.reset() }  // an unfinished statement would hold a read snapshot open
        guard try s.step() else { return nil }
        let caps = (try? JSONParser.parse(s.bytes(4)))?.arrayValue?.compactMap(\.stringValue) ?? []
        return DefinitionRow(
            id: s.text(0)!,
            fields: DefinitionFields(
                slug: slug,
                name: s.text(1),
                agentType: s.text(2),
                description: s.text(3),
                capabilities: caps,
                configSchema: try? JSONParser.parse(s.bytes(5)),
                metadata: try? JSONParser.parse(s.bytes(6)),
                enabled: s.int(7) != 0
            ),
            revision: s.int(8)
        )
    }

    func registerDefinition(_ f: DefinitionFields, ctx: inout RecordContext) throws {
        if try definition(slug: f.slug) != nil {
            throw CommandRejection(.alreadyExists, "definition '\(f.slug)' exists; use definition.update", field: "payload.slug")
        }
        var full = f
        full.capabilities = f.capabilities ?? []
        full.configSchema = f.configSchema ?? .object([:])
        full.metadata = f.metadata ?? .object([:])
        full.enabled = f.enabled ?? true
        let row = DefinitionRow(id: "def_" + FNV1a64.hex(["definition", f.slug]), fields: full, revision: 1)
        try saveDefinition(row, insert: true, time: ctx.time)
        ctx.emit(.definitionRegistered, pairs: definitionPayload(row))
    }

    func updateDefinition(_ f: DefinitionFields, ctx: inout RecordContext) throws {
        guard var row = try definition(slug: f.slug) else {
            throw CommandRejection(.notFound, "no definition '\(f.slug)'", field: "payload.slug")
        }
        if let v = f.name { row.fields.name = v }
        if let v = f.agentType { row.fields.agentType = v }
        if let v = f.description { row.fields.description = v }
        if let v = f.capabilities { row.fields.capabilities = v }
        if let v = f.configSchema { row.fields.configSchema = v }
        if let v = f.metadata { row.fields.metadata = v }
        if let v = f.enabled { row.fields.enabled = v }
        row.revision += 1
        try saveDefinition(row, insert: false, time: ctx.time)
        ctx.emit(.definitionUpdated, pairs: definitionPayload(row))
    }

    func disableDefinition(_ slug: String, ctx: inout RecordContext) throws {
        guard var row = try definition(slug: slug) else {
            throw CommandRejection(.notFound, "no definition '\(slug)'", field: "payload.slug")
        }
        row.fields.enabled = false
        row.revision += 1
        try saveDefinition(row, insert: false, time: ctx.time)
        ctx.emit(.definitionDisabled, pairs: definitionPayload(row))
    }

    private func saveDefinition(_ row: DefinitionRow, insert: Bool, time: Int64) throws {
        let f = row.fields
        let caps = JSONValue.array((f.capabilities ?? []).map(JSONValue.string)).canonicalString
        let args: [SQLValue] = [
            .text(f.slug), .text(row.id), .text(f.name ?? ""), .text(f.agentType ?? ""),
            f.description.map(SQLValue.text) ?? .null, .text(caps),
            .text((f.configSchema ?? .object([:])).canonicalString), .text((f.metadata ?? .object([:])).canonicalString),
            .int(f.enabled == false ? 0 : 1), .int(row.revision), .int(time),
        ]
        if insert {
            try db.run(
                "INSERT INTO agent_definitions(slug, id, name, agent_type, description, capabilities, config_schema, metadata, is_enabled, revision, created_ms, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                args + [.int(time)]
            )
        } else {
            try db.run(
                "UPDATE agent_definitions SET id=?2, name=?3, agent_type=?4, description=?5, capabilities=?6, config_schema=?7, metadata=?8, is_enabled=?9, revision=?10, updated_ms=?11 WHERE slug=?1",
                args
            )
        }
    }

    func definitionPayload(_ row: DefinitionRow) -> [(String, JSONValue)] {
        let f = row.fields
        return [
            ("slug", .string(f.slug)), ("name", .string(f.name ?? "")), ("agent_type", .string(f.agentType ?? "")),
            ("description", f.description.map(JSONValue.string) ?? .null),
            ("capabilities", .array((f.capabilities ?? []).map(JSONValue.string))),
            ("config_schema", f.configSchema ?? .object([:])), ("metadata", f.metadata ?? .object([:])),
            ("enabled", .bool(f.enabled ?? true)), ("revision", .int(row.revision)),
        ]
    }
}
