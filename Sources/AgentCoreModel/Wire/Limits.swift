/// Size limits on input. Each has a default and a rejection code when exceeded:
/// records over `maxRecordBytes` are dead-lettered (`record_too_large`); the others are
/// refused with `limit_exceeded` (or `invalid_payload` for identifier formats).
public struct Limits: Sendable, Equatable {
    /// Largest record value accepted, in bytes.
    public var maxRecordBytes = 1_048_576
    /// Largest serialised context data (one version), in bytes.
    public var maxContextBytes = 524_288
    /// Largest serialised config, state or metadata document, in bytes.
    public var maxDocumentBytes = 65_536
    /// Longest identifier (ids, slugs, names of contexts), in characters.
    public var maxIdentifierLength = 128
    /// Longest name or actor, in characters.
    public var maxNameLength = 255
    /// Longest description or error text, in characters.
    public var maxTextLength = 4_096
    /// Most capabilities a definition may declare.
    public var maxCapabilities = 64

    public init() {}
}
