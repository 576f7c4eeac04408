import AgentCoreModel

/// What one `apply` did.
public struct ApplySummary: Sendable, Equatable {
    /// Records applied with their result events (including idempotent re-answers).
    public var applied = 0
    /// Records answered with `command.rejected`.
    public var rejected = 0
    /// Records sent to the dead-letter topic.
    public var deadLettered = 0
    /// Records skipped because the store had applied them already.
    public var skipped = 0
    /// Events and dead letters written to the outbox.
    public var outputs = 0
    /// `applied` and `rejected` by the record's `type` (as sent; "unknown" when it names no
    /// command type), for metrics.
    public var byType: [String: Int] = [:]
    /// `rejected` by rejection code.
    public var rejectedByCode: [String: Int] = [:]
    /// `deadLettered` by reason.
    public var deadLettersByReason: [String: Int] = [:]

    public init() {}
}
