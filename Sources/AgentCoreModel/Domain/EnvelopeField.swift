/// The command envelope's fields and their rules: one table, read by both decoding
/// strategies (`CommandDecoder.decodeEnvelope` and the one-pass `decodeCommonContextWrite`).
/// The order is the fast path's field index.
enum EnvelopeField: Int, CaseIterable {
    case schema, id, type, workspaceId, projectId, actor, correlationId, payload

    var name: StaticString {
        switch self {
        case .schema: return "schema"
        case .id: return "id"
        case .type: return "type"
        case .workspaceId: return "workspace_id"
        case .projectId: return "project_id"
        case .actor: return "actor"
        case .correlationId: return "correlation_id"
        case .payload: return "payload"
        }
    }

    var key: String { "\(name)" }

    /// For the string fields after `schema`: whether the field must be there, its longest
    /// length in characters, and whether it is an identifier (`Identifier.isValid`).
    func rule(_ limits: Limits) -> (required: Bool, maxLength: Int, identifier: Bool)? {
        switch self {
        case .id, .workspaceId: return (true, limits.maxIdentifierLength, true)
        case .type: return (true, 64, true)
        case .projectId: return (false, limits.maxIdentifierLength, true)
        case .actor: return (true, limits.maxNameLength, false)
        case .correlationId: return (false, limits.maxNameLength, false)
        case .schema, .payload: return nil
        }
    }

    static let names: Set<String> = Set(allCases.map(\.key))
}

/// `context.write`'s payload fields and their lengths: one table, read by `decodeCommand`
/// and the one-pass reader. The order is the fast path's field index.
enum ContextWriteField: Int, CaseIterable {
    case instanceId, name, data, mode, description, expectedVersion

    var name: StaticString {
        switch self {
        case .instanceId: return "instance_id"
        case .name: return "name"
        case .data: return "data"
        case .mode: return "mode"
        case .description: return "description"
        case .expectedVersion: return "expected_version"
        }
    }

    var key: String { "\(name)" }

    /// Longest length in characters of the string fields (nil: not a string field).
    func maxLength(_ limits: Limits) -> Int? {
        switch self {
        case .instanceId, .name: return limits.maxIdentifierLength
        case .mode: return 32
        case .description: return limits.maxTextLength
        case .data, .expectedVersion: return nil
        }
    }
}
