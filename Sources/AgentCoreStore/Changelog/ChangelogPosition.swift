import AgentCoreModel

/// Where a store stands, as a changelog marker carries it: what a restored store needs
/// besides its rows to resume input exactly where the writer left off.
public struct ChangelogPosition: Sendable, Equatable {
    /// Last applied offset per input topic.
    public var appliedOffsets: [String: Int64] = [:]
    /// Highest record timestamp applied.
    public var streamTime: Int64?
    /// Results rows up to this sequence number were acknowledged by Kafka: a restore
    /// re-publishes only the rows after it.
    public var publishedThrough: Int64 = 0
    /// Sequence number of the next results row.
    public var nextSeq: Int64 = 1
    /// The apply settings the store was last applied with (`StoreOptions.applySettings`).
    public var applySettings: String?
    /// Results rows from this `seq` on travel in blocks (nil in markers from before
    /// blocks: every row they cover may be a row record).
    public var resultBlocksFrom: Int64?
    /// Context versions travel keyed by slot, S slots per context (nil in markers from
    /// before slots: versions are row records keyed by their number).
    public var versionSlots: Int64?

    public init() {}

    var json: JSONValue {
        var offsets: [String: JSONValue] = [:]
        for (t, o) in appliedOffsets { offsets[t] = .int(o) }
        return .object([
            "applied_offsets": .object(offsets), "stream_time": streamTime.map(JSONValue.int) ?? .null,
            "published_through": .int(publishedThrough), "next_seq": .int(nextSeq),
            "apply_settings": applySettings.map(JSONValue.string) ?? .null,
            "result_blocks_from": resultBlocksFrom.map(JSONValue.int) ?? .null,
            "version_slots": versionSlots.map(JSONValue.int) ?? .null,
        ])
    }

    init(json: JSONValue) throws {
        guard case .object(let o) = json, case .object(let offsets)? = o["applied_offsets"],
            let published = o["published_through"]?.intValue, let next = o["next_seq"]?.intValue
        else { throw StoreError("corrupt_changelog", "changelog marker has no valid position") }
        for (t, v) in offsets {
            guard let i = v.intValue else { throw StoreError("corrupt_changelog", "changelog marker offset of \(t) is not an integer") }
            appliedOffsets[t] = i
        }
        streamTime = o["stream_time"]?.intValue
        publishedThrough = published
        nextSeq = next
        applySettings = o["apply_settings"]?.stringValue
        resultBlocksFrom = o["result_blocks_from"]?.intValue
        versionSlots = o["version_slots"]?.intValue
        if let s = versionSlots, s < 1 { throw StoreError("corrupt_changelog", "changelog marker has version_slots \(s)") }
    }
}
