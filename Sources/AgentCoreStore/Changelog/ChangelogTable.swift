/// A table whose rows the changelog carries: a fixed id (part of the record format), its
/// columns in the order row images list them, and its primary key (which names a row in a
/// changelog key, so that compaction keeps one record per live row).
///
/// Only logical state is listed. `store_meta` and `applied_offsets` travel as the position
/// in each unit's marker; `changelog_dirty` is the changelog's own outbox.
struct ChangelogTable: Sendable {
    let id: UInt8
    let name: String
    let columns: [String]
    let key: [String]
    /// Positions of the key's columns in `columns`.
    let keyIndexes: [Int]

    /// Statements by rowid and by key (slots of their own, see `HotStatement`).
    let byRowid: HotStatement
    let byKey: HotStatement

    init(_ id: UInt8, _ name: String, columns: [String], key: [String]) {
        self.id = id
        self.name = name
        self.columns = columns
        self.key = key
        self.keyIndexes = key.map { k in columns.firstIndex(of: k)! }
        let list = columns.joined(separator: ", ")
        let condition = key.map { "\($0)=?" }.joined(separator: " AND ")
        if name == "agent_context_versions" {
            // Versions below their context's `oldest_version` are pruned: logically gone,
            // so they read as absent (their rows wait for the sweep).
            let select =
                "SELECT \(columns.map { "v.\($0)" }.joined(separator: ", ")) FROM agent_context_versions v"
                + " JOIN agent_context_heads h ON h.cid = v.cid WHERE "
            byRowid = HotStatement(slot: 16 + 2 * Int(id), sql: select + "v.rowid=? AND v.version >= h.oldest_version")
            byKey = HotStatement(slot: 17 + 2 * Int(id), sql: select + "v.cid=? AND v.version=? AND v.version >= h.oldest_version")
        } else {
            byRowid = HotStatement(slot: 16 + 2 * Int(id), sql: "SELECT \(list) FROM \(name) WHERE rowid=?")
            byKey = HotStatement(slot: 17 + 2 * Int(id), sql: "SELECT \(list) FROM \(name) WHERE \(condition)")
        }
        upsert = "INSERT OR REPLACE INTO \(name)(\(list)) VALUES(\(columns.map { _ in "?" }.joined(separator: ",")))"
        delete = "DELETE FROM \(name) WHERE \(condition)"
    }

    let upsert: String
    let delete: String

    /// Never renumber: the ids are in every changelog key. A new table gets a new id.
    static let all: [ChangelogTable] = [
        ChangelogTable(1, "workspaces", columns: ["id", "created_ms"], key: ["id"]),
        ChangelogTable(2, "projects", columns: ["workspace_id", "id", "created_ms"], key: ["workspace_id", "id"]),
        ChangelogTable(
            3,
            "agent_definitions",
            columns: [
                "slug", "id", "name", "agent_type", "description", "capabilities", "config_schema", "metadata",
                "is_enabled", "revision", "created_ms", "updated_ms",
            ],
            key: ["slug"]
        ),
        ChangelogTable(
            4,
            "agent_instances",
            columns: [
                "workspace_id", "project_id", "id", "definition_id", "definition_slug", "name", "status", "config",
                "state", "last_heartbeat_ms", "last_error", "initialized", "liveness_ms", "created_ms", "updated_ms",
            ],
            key: ["workspace_id", "project_id", "id"]
        ),
        ChangelogTable(
            5,
            "agent_contexts",
            columns: [
                "cid", "id", "workspace_id", "project_id", "instance_id", "name", "rollback_pointer", "rollback_state",
                "created_ms", "touched_ms", "touched_version",
            ],
            key: ["cid"]
        ),
        ChangelogTable(6, "agent_context_heads", columns: ["cid", "current_version", "oldest_version"], key: ["cid"]),
        ChangelogTable(
            7,
            "agent_context_versions",
            columns: ["cid", "version", "data", "change_description", "created_by", "byte_size", "mode", "created_ms"],
            key: ["cid", "version"]
        ),
        ChangelogTable(8, "results", columns: ["seq", "hkey", "workspace_id", "command_id", "outputs"], key: ["seq"]),
        ChangelogTable(
            9,
            "agent_mailboxes",
            columns: ["workspace_id", "project_id", "instance_id", "last_seq"],
            key: ["workspace_id", "project_id", "instance_id"]
        ),
    ]

    static let heads = all[5]
    static let versions = all[6]
    static let results = all[7]

    static func byId(_ id: UInt8) -> ChangelogTable? { all.first { $0.id == id } }

}
