/// Turns record bytes into commands. Envelope problems are dead letters (the command
/// cannot be answered by id); payload problems are rejections (answered on the status topic).
public struct CommandDecoder: Sendable {
    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Parses and checks the envelope. Throws `DeadLetterError`.
    public func decodeEnvelope(_ bytes: [UInt8]) throws(DeadLetterError) -> CommandEnvelope {
        try decodeEnvelope(bytes, capturingData: false).envelope
    }

    /// Parses and checks the envelope; with `capturingData`, a `payload.data` that is
    /// already canonical JSON comes back as its bytes instead of as a tree (the payload
    /// then holds `.null` under `data`; see `JSONParser.parse(_:maxDepth:canonicalAt:)`).
    /// Throws `DeadLetterError` exactly when `decodeEnvelope(_:)` does.
    public func decodeEnvelope(
        _ bytes: [UInt8],
        capturingData: Bool
    ) throws(DeadLetterError) -> (envelope: CommandEnvelope, canonicalData: [UInt8]?) {
        if bytes.count > limits.maxRecordBytes {
            throw DeadLetterError(.recordTooLarge, "record of \(bytes.count) bytes exceeds \(limits.maxRecordBytes)")
        }
        let value: JSONValue
        var canonicalData: [UInt8]?
        do {
            if capturingData {
                let parsed = try JSONParser.parse(bytes, canonicalAt: Self.dataPath)
                value = parsed.value
                canonicalData = parsed.canonical.map { Array(bytes[$0]) }
            } else {
                value = try JSONParser.parse(bytes)
            }
        } catch {
            throw DeadLetterError(.invalidJSON, "value is not JSON: \(error.description)")
        }
        guard case .object(let o) = value else { throw DeadLetterError(.invalidEnvelope, "envelope must be an object") }
        guard let schema = o["schema"]?.stringValue else {
            throw DeadLetterError(.invalidEnvelope, "envelope field 'schema' is missing or not a string")
        }
        guard schema == CommandEnvelope.schema else {
            throw DeadLetterError(.unsupportedSchema, "schema '\(schema.prefix(64))' is not \(CommandEnvelope.schema)")
        }
        if let extra = o.keys.filter({ !EnvelopeField.names.contains($0) }).sorted(by: JSONValue.utf8Less).first {
            throw DeadLetterError(.invalidEnvelope, "envelope field '\(extra.prefix(64))' is not allowed")
        }
        func field(_ f: EnvelopeField) throws(DeadLetterError) -> String? {
            let name = f.key
            let (required, maxLength, identifier) = f.rule(limits)!
            guard let v = o[name] else {
                if required { throw DeadLetterError(.invalidEnvelope, "envelope field '\(name)' is missing") }
                return nil
            }
            guard let s = v.stringValue else { throw DeadLetterError(.invalidEnvelope, "envelope field '\(name)' must be a string") }
            if s.isEmpty || s.hasMoreCharacters(than: maxLength) {
                throw DeadLetterError(.invalidEnvelope, "envelope field '\(name)' must have 1 to \(maxLength) characters")
            }
            if identifier && !Identifier.isValid(s) {
                throw DeadLetterError(.invalidEnvelope, "envelope field '\(name)' has characters outside [A-Za-z0-9._:@-]")
            }
            return s
        }
        let id = try field(.id)!
        let type = try field(.type)!
        let workspace = try field(.workspaceId)!
        let project = try field(.projectId)
        let actor = try field(.actor)!
        let correlation = try field(.correlationId)
        guard let payload = o["payload"] else { throw DeadLetterError(.invalidEnvelope, "envelope field 'payload' is missing") }
        guard case .object = payload else { throw DeadLetterError(.invalidEnvelope, "envelope field 'payload' must be an object") }
        let envelope = CommandEnvelope(
            id: id,
            type: type,
            workspaceId: workspace,
            projectId: project,
            actor: actor,
            correlationId: correlation,
            payload: payload
        )
        return (envelope, canonicalData)
    }

    static let dataPath = ["payload", "data"]

    /// Decodes the typed payload. Throws `CommandRejection` with the failing field.
    public func decodeCommand(_ envelope: CommandEnvelope) throws(CommandRejection) -> Command {
        guard let type = CommandType(rawValue: envelope.type) else {
            throw CommandRejection(.unsupportedCommand, "unknown command type '\(envelope.type)'", field: "type")
        }
        if !type.isDefinitionCommand && envelope.projectId == nil {
            throw CommandRejection(.invalidPayload, "\(type.rawValue) needs a project_id", field: "project_id")
        }
        var r = PayloadReader(object: envelope.payload.objectValue ?? [:], limits: limits)
        let command: Command
        switch type {
        case .definitionRegister, .definitionUpdate:
            let register = type == .definitionRegister
            var f = DefinitionFields(slug: try r.slug("slug"))
            f.name = try r.string("name", required: register, maxLength: limits.maxNameLength, nonEmpty: true)
            f.agentType = try r.string("agent_type", required: register, maxLength: 100, nonEmpty: true)
            f.description = try r.string("description", required: false, maxLength: limits.maxTextLength)
            f.capabilities = try r.capabilities("capabilities")
            f.configSchema = try r.document("config_schema", requireObject: true)
            f.metadata = try r.document("metadata", requireObject: true)
            f.enabled = try r.bool("enabled")
            if let s = f.configSchema, let v = ConfigSchema.checkWellFormed(s, path: "payload.config_schema") {
                throw CommandRejection(.schemaInvalid, v.message, field: v.path)
            }
            if !register && f.name == nil && f.agentType == nil && f.description == nil && f.capabilities == nil
                && f.configSchema == nil && f.metadata == nil && f.enabled == nil
            {
                throw CommandRejection(.invalidPayload, "definition.update changes nothing", field: "payload")
            }
            command = register ? .definitionRegister(f) : .definitionUpdate(f)
        case .definitionDisable:
            command = .definitionDisable(slug: try r.slug("slug"))
        case .instanceSpawn:
            command = .instanceSpawn(
                definition: try r.slug("definition"),
                name: try r.string("name", required: true, maxLength: limits.maxNameLength)!,
                instanceId: try r.identifier("instance_id", required: false),
                config: try r.document("config", requireObject: true) ?? .object([:]),
                state: try r.document("state", requireObject: false)
            )
        case .instanceTransition:
            let id = try r.identifier("instance_id", required: true)!
            let toText = try r.string("to", required: true, maxLength: 32)!
            guard let to = InstanceStatus(rawValue: toText) else {
                throw CommandRejection(.invalidPayload, "'\(toText)' is not a status", field: "payload.to")
            }
            command = .instanceTransition(
                instanceId: id,
                to: to,
                reason: try r.string("reason", required: false, maxLength: limits.maxTextLength),
                error: try r.string("error", required: false, maxLength: limits.maxTextLength)
            )
        case .instanceHeartbeat:
            command = .instanceHeartbeat(
                instanceId: try r.identifier("instance_id", required: true)!,
                state: try r.document("state", requireObject: false)
            )
        case .instanceConfigure:
            let id = try r.identifier("instance_id", required: true)!
            guard let config = try r.document("config", requireObject: true)?.objectValue else {
                throw CommandRejection(.invalidPayload, "'config' is required", field: "payload.config")
            }
            command = .instanceConfigure(instanceId: id, config: config)
        case .instanceRemove:
            command = .instanceRemove(instanceId: try r.identifier("instance_id", required: true)!)
        case .contextWrite:
            typealias F = ContextWriteField
            let id = try r.identifier(F.instanceId.key, required: true)!
            let name = try r.contextName(F.name.key)
            guard let data = r.take(F.data.key) else {
                throw CommandRejection(.invalidPayload, "'data' is required", field: "payload.data")
            }
            let modeText = try r.string(F.mode.key, required: false, maxLength: F.mode.maxLength(limits)!) ?? "replace"
            guard let mode = WriteMode(rawValue: modeText) else {
                throw CommandRejection(.invalidPayload, "mode must be replace or merge_patch", field: "payload.mode")
            }
            command = .contextWrite(
                instanceId: id,
                name: name,
                data: .tree(data),
                description: try r.string(F.description.key, required: false, maxLength: F.description.maxLength(limits)!),
                mode: mode,
                expectedVersion: try r.int(F.expectedVersion.key, required: false, minimum: 0)
            )
        case .contextRollback:
            command = .contextRollback(
                instanceId: try r.identifier("instance_id", required: true)!,
                name: try r.contextName("name"),
                targetVersion: try r.int("target_version", required: true, minimum: 1)!,
                description: try r.string("description", required: false, maxLength: limits.maxTextLength)
            )
        case .agentMessage:
            let from = try r.identifier("from_instance_id", required: true)!
            let to = try r.identifier("to_instance_id", required: true)!
            let toProject = try r.identifier("to_project_id", required: false)
            guard let body = try r.document("body", requireObject: false) else {
                throw CommandRejection(.invalidPayload, "'body' is required", field: "payload.body")
            }
            command = .agentMessage(from: from, to: to, toProject: toProject, body: body)
        }
        try r.rejectUnknown()
        return command
    }
}

extension String {
    /// `count > n`, without counting characters when the UTF-8 length already settles it
    /// (a string has at most as many characters as UTF-8 bytes).
    @inlinable public func hasMoreCharacters(than n: Int) -> Bool { utf8.count > n && count > n }
}

/// Identifier syntax shared by ids, workspaces and projects: `[A-Za-z0-9][A-Za-z0-9._:@-]*`.
public enum Identifier {
    public static func isValid(_ s: String) -> Bool {
        var first = true
        for b in s.utf8 {
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            if !alnum && (first || !(b == 0x2E || b == 0x5F || b == 0x3A || b == 0x40 || b == 0x2D)) { return false }
            first = false
        }
        return !first
    }

    /// Slugs: lowercase `[a-z0-9][a-z0-9._-]*`.
    public static func isValidSlug(_ s: String) -> Bool {
        var first = true
        for b in s.utf8 {
            let alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7A)
            if !alnum && (first || !(b == 0x2E || b == 0x5F || b == 0x2D)) { return false }
            first = false
        }
        return !first
    }
}
