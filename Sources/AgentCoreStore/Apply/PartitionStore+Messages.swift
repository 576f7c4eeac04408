import AgentCoreModel

extension PartitionStore {
    /// `agent.message`: checks that sender and target exist in the command's workspace and
    /// are not offline, takes the target's next mailbox sequence number and emits
    /// `agent.message_delivered` (on the status topic, keyed by the workspace, so a target's
    /// messages are in order). An instance of another workspace is `not_found` like one
    /// that does not exist: lookups never leave the workspace.
    func deliverMessage(from: String, to: String, toProject: String?, body: JSONValue, ctx: inout RecordContext) throws {
        try requireLive(from, project: ctx.project, field: "payload.from_instance_id", role: "sender", ctx: ctx)
        let targetProject = toProject ?? ctx.project
        try requireLive(to, project: targetProject, field: "payload.to_instance_id", role: "target", ctx: ctx)
        let key: [SQLValue] = [.text(ctx.workspace), .text(targetProject), .text(to)]
        let last =
            try db.rows(
                "SELECT last_seq FROM agent_mailboxes WHERE workspace_id=? AND project_id=? AND instance_id=?",
                key
            ).first?.first?.int ?? 0
        let seq = last + 1
        try db.run(
            "INSERT INTO agent_mailboxes(workspace_id, project_id, instance_id, last_seq) VALUES(?,?,?,?) ON CONFLICT(workspace_id, project_id, instance_id) DO UPDATE SET last_seq = excluded.last_seq",
            key + [.int(seq)]
        )
        ctx.emit(
            .agentMessageDelivered,
            pairs: [
                ("message_id", .string(ctx.envelope?.id ?? "")), ("from_instance_id", .string(from)),
                ("from_project_id", .string(ctx.project)), ("to_instance_id", .string(to)),
                ("to_project_id", .string(targetProject)), ("seq", .int(seq)), ("body", body),
            ]
        )
    }

    /// An instance of the command's workspace in `project` that is not offline.
    private func requireLive(_ id: String, project: String, field: String, role: String, ctx: RecordContext) throws {
        let rows = try db.rows(
            "SELECT status FROM agent_instances WHERE workspace_id=? AND project_id=? AND id=?",
            [.text(ctx.workspace), .text(project), .text(id)]
        )
        guard let text = rows.first?.first?.text else {
            throw CommandRejection(.notFound, "no \(role) instance '\(id)' in this workspace and project '\(project)'", field: field)
        }
        if text == InstanceStatus.offline.rawValue {
            throw CommandRejection(.instanceOffline, "\(role) instance '\(id)' is offline", field: field)
        }
    }
}
