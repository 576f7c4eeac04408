/// Why a well-formed command was refused. Published as `command.rejected` on the status
/// topic. The raw values are part of the wire contract (`schemas/`).
public enum RejectionCode: String, Sendable, CaseIterable, Codable {
    case invalidPayload = "invalid_payload"
    case unsupportedCommand = "unsupported_command"
    case wrongTopic = "wrong_topic"
    case notFound = "not_found"
    case alreadyExists = "already_exists"
    case definitionDisabled = "definition_disabled"
    case invalidTransition = "invalid_transition"
    case configInvalid = "config_invalid"
    case schemaInvalid = "schema_invalid"
    case quotaExceeded = "quota_exceeded"
    case versionConflict = "version_conflict"
    case rollbackFailed = "rollback_failed"
    case limitExceeded = "limit_exceeded"
    /// A message's sender or target is `offline`.
    case instanceOffline = "instance_offline"
}

/// Why a record could not be read as a command at all. The record goes to the dead-letter
/// topic with this reason and its original bytes.
public enum DeadLetterReason: String, Sendable, CaseIterable, Codable {
    case nullValue = "null_value"
    case recordTooLarge = "record_too_large"
    case invalidJSON = "invalid_json"
    case invalidEnvelope = "invalid_envelope"
    case unsupportedSchema = "unsupported_schema"
    case keyMismatch = "key_mismatch"
    case wrongPartition = "wrong_partition"
}

/// A domain refusal: a stable code, a message for people and the failing field.
public struct CommandRejection: Error, Sendable, Equatable {
    public var code: RejectionCode
    public var message: String
    /// Dotted path of the failing field, e.g. `payload.config.retries`.
    public var field: String?

    public init(_ code: RejectionCode, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }
}

/// A record that is not a command.
public struct DeadLetterError: Error, Sendable, Equatable {
    public var reason: DeadLetterReason
    public var message: String

    public init(_ reason: DeadLetterReason, _ message: String) {
        self.reason = reason
        self.message = message
    }
}
